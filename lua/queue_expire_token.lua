-- Ends an active token at once (after a completed payment) so its slot frees up.
-- KEYS[1]: active ZSET
-- KEYS[2]: stats HASH
-- KEYS[3]: the user's meta HASH bucket
-- ARGV[1]: user id
-- ARGV[2]: issued_s of the token being ended
-- ARGV[3]: nonce of the token being ended
-- Returns: 1 when the token was active and is now expired, else 0.
local user = ARGV[1]
local meta = redis.call('HGET', KEYS[3], user)
if not meta then
  return 0
end
local issued, nonce = struct.unpack('>II', meta)
if issued ~= tonumber(ARGV[2]) or nonce ~= tonumber(ARGV[3]) then
  return 0
end
if redis.call('ZREM', KEYS[1], user) == 0 then
  return 0
end
local now_s = tonumber(redis.call('TIME')[1])
-- Remember when it ended (polls report it as the expiry); the rest of the record stays.
redis.call('HSET', KEYS[3], user, struct.pack('>III', issued, nonce, math.max(0, now_s - issued)) .. string.sub(meta, 13))
redis.call('HINCRBY', KEYS[2], 'completed', 1)
return 1
