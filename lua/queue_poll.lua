-- Reports a user's place in a queue; polling while waiting keeps the place alive.
-- A waiting user silent for longer than the idle timeout has lost the place.
-- The hot path of the whole service, so it does as little as it can: the
-- waiting set is checked first (most pollers wait), and last-seen is rewritten
-- only when it is older than a tenth of the idle timeout.
-- KEYS[1]: waiting ZSET
-- KEYS[2]: active ZSET
-- KEYS[3]: stats HASH
-- KEYS[4]: the user's meta HASH bucket (struct '>III': issued_s, nonce, seen delta; see queue_join)
-- ARGV[1]: user id
-- ARGV[2]: idle timeout, seconds
-- Returns: {state, position, issued_s, nonce, expiry_ms} with state "waiting",
--   "active", "expired", or "none" when the user never joined (or the record
--   has lapsed).
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local user = ARGV[1]
local idle = tonumber(ARGV[2])

local meta = redis.call('HGET', KEYS[4], user)
if not meta then
  return {'none', 0, 0, 0, 0}
end
local issued, nonce, seen = struct.unpack('>III', meta)
seen = issued + seen

local rank = redis.call('ZRANK', KEYS[1], user)
if rank then
  if seen + idle >= now_s then
    if now_s - seen >= math.ceil(idle / 10) then
      redis.call('HSET', KEYS[4], user, struct.pack('>III', issued, nonce, now_s - issued))
      seen = now_s
    end
    return {'waiting', rank + 1, issued, nonce, (seen + idle) * 1000}
  end
  redis.call('ZREM', KEYS[1], user)
  redis.call('HINCRBY', KEYS[3], 'abandoned', 1)
  return {'expired', 0, issued, nonce, (seen + idle) * 1000}
end

local expiry = redis.call('ZSCORE', KEYS[2], user)
if expiry then
  expiry = tonumber(expiry)
  if expiry > now_s * 1000 + math.floor(tonumber(t[2]) / 1000) then
    return {'active', 0, issued, nonce, expiry}
  end
  redis.call('ZREM', KEYS[2], user)
  redis.call('HINCRBY', KEYS[3], 'expired', 1)
  return {'expired', 0, issued, nonce, expiry}
end

-- Admitted and gone (paid, timed out, or skipped as abandoned): last activity time.
return {'expired', 0, issued, nonce, seen * 1000}
