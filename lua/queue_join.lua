-- Joins a waiting queue, or hands back the place the user already holds.
-- A user already waiting keeps token and place (and counts as having polled);
-- an active user keeps the active token; anyone else goes to the back of the line.
-- KEYS[1]: waiting ZSET (user -> join sequence)
-- KEYS[2]: active ZSET (user -> expiry ms)
-- KEYS[3]: stats HASH (seq = tokens issued so far, abandoned, expired)
-- KEYS[4]: the user's meta HASH bucket (user -> 12 bytes, struct '>III':
--   issued_s, nonce, last seen as seconds after issued_s; binary because it is
--   smaller than text and struct.unpack is cheaper than a pattern match)
-- ARGV[1]: user id
-- ARGV[2]: nonce for a new token
-- ARGV[3]: idle timeout, seconds
-- ARGV[4]: meta bucket TTL, seconds
-- Returns: {state, position, issued_s, nonce, expiry_ms}
--   state "waiting" (position >= 1) or "active" (position 0).
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local user = ARGV[1]
local idle = tonumber(ARGV[3])

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
      return {'waiting', rank + 1, issued, nonce, (seen + idle) * 1000}
    end
    redis.call('ZREM', KEYS[1], user)
    redis.call('HINCRBY', KEYS[3], 'abandoned', 1)
  else
    local expiry = redis.call('ZSCORE', KEYS[2], user)
    if expiry then
      expiry = tonumber(expiry)
      if expiry > now_s * 1000 + math.floor(tonumber(t[2]) / 1000) then
        return {'active', 0, issued, nonce, expiry}
      end
      redis.call('ZREM', KEYS[2], user)
      redis.call('HINCRBY', KEYS[3], 'expired', 1)
    end
  end
end

local nonce = tonumber(ARGV[2])
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
redis.call('ZADD', KEYS[1], seq, user)
redis.call('HSET', KEYS[4], user, struct.pack('>III', now_s, nonce, 0))
redis.call('EXPIRE', KEYS[4], ARGV[4])
-- The sequence only grows, so the newcomer is last: its place is the set's size.
local position = redis.call('ZCARD', KEYS[1])
return {'waiting', position, now_s, nonce, (now_s + idle) * 1000}
