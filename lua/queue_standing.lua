-- A user's standing in one queue: join it (or get back the place already held),
-- or poll the place. One script for both, because both first ask the same thing
-- (is this user waiting and alive, active, or gone?); a join then takes a new
-- place at the back where a poll would report the user as gone.
-- The hot path of the whole service, so it does as little as it can: the
-- waiting set is checked first (most callers wait), and last-seen is rewritten
-- only when it is older than a tenth of the idle timeout.
-- KEYS[1]: waiting ZSET (user -> join sequence)
-- KEYS[2]: active ZSET (user -> expiry ms)
-- KEYS[3]: stats HASH (seq = tokens issued so far, abandoned, expired)
-- KEYS[4]: the user's meta HASH bucket (user -> 12 bytes, struct '>III':
--   issued_s, nonce, last seen as seconds after issued_s; binary because it is
--   smaller than text and struct.unpack is cheaper than a pattern match)
-- ARGV[1]: "join" or "poll"
-- ARGV[2]: user id
-- ARGV[3]: idle timeout, seconds
-- ARGV[4]: join only: nonce for a new token
-- ARGV[5]: join only: meta bucket TTL, seconds
-- Returns: {state, position, issued_s, nonce, expiry_ms}
--   state 1 waiting (position >= 1), 2 active, 3 expired, 0 never joined (poll only;
--   also when the record has lapsed). A join answers 1 or 2 only.
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local user = ARGV[2]
local idle = tonumber(ARGV[3])
local join = ARGV[1] == 'join'

local meta = redis.call('HGET', KEYS[4], user)
if meta then
  local issued, nonce, seen = struct.unpack('>III', meta)
  seen = issued + seen
  local rank = redis.call('ZRANK', KEYS[1], user)
  if rank then
    if seen + idle >= now_s then
      if now_s - seen >= math.ceil(idle / 10) then
        redis.call('HSET', KEYS[4], user, struct.pack('>III', issued, nonce, now_s - issued))
        seen = now_s
      end
      return {1, rank + 1, issued, nonce, (seen + idle) * 1000}
    end
    redis.call('ZREM', KEYS[1], user)
    redis.call('HINCRBY', KEYS[3], 'abandoned', 1)
    if not join then
      return {3, 0, issued, nonce, (seen + idle) * 1000}
    end
  else
    local expiry = redis.call('ZSCORE', KEYS[2], user)
    if expiry then
      expiry = tonumber(expiry)
      if expiry > now_s * 1000 + math.floor(tonumber(t[2]) / 1000) then
        return {2, 0, issued, nonce, expiry}
      end
      redis.call('ZREM', KEYS[2], user)
      redis.call('HINCRBY', KEYS[3], 'expired', 1)
      if not join then
        return {3, 0, issued, nonce, expiry}
      end
    elseif not join then
      -- Admitted and gone (paid, timed out, or skipped as abandoned): last activity time.
      return {3, 0, issued, nonce, seen * 1000}
    end
  end
elseif not join then
  return {0, 0, 0, 0, 0}
end

local nonce = tonumber(ARGV[4])
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
redis.call('ZADD', KEYS[1], seq, user)
redis.call('HSET', KEYS[4], user, struct.pack('>III', now_s, nonce, 0))
redis.call('EXPIRE', KEYS[4], ARGV[5])
-- The sequence only grows, so the newcomer is last: its place is the set's size.
local position = redis.call('ZCARD', KEYS[1])
return {1, position, now_s, nonce, (now_s + idle) * 1000}
