-- queue_expire_token: ends an active token at once (after a completed
-- payment) so its slot frees up.
-- KEYS[1]: active ZSET
-- KEYS[2]: stats HASH
-- KEYS[3]: the user's meta HASH bucket (the user record, see record_pack)
-- ARGV[1]: user id
-- ARGV[2]: issued_s of the token being ended
-- ARGV[3]: nonce of the token being ended
-- Returns: 1 when the token was active and is now expired, else 0.
local function queue_expire_token(KEYS, ARGV)
  local user = ARGV[1]
  local record = redis.call('HGET', KEYS[3], user)
  if not record then
    return 0
  end
  local issued, nonce = record_head(record)
  if issued ~= tonumber(ARGV[2]) or nonce ~= tonumber(ARGV[3]) then
    return 0
  end
  if redis.call('ZREM', KEYS[1], user) == 0 then
    return 0
  end
  local _, now_s = now_ms()
  -- Remember when it ended (polls report it as the expiry); the rest of the record stays.
  redis.call('HSET', KEYS[3], user, record_seen(record, issued, nonce, math.max(0, now_s - issued)))
  redis.call('HINCRBY', KEYS[2], 'completed', 1)
  return 1
end
register('queue_expire_token', queue_expire_token)
