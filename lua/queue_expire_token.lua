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
  local record, issued, nonce = record_of_token(KEYS[3], user, ARGV[2], ARGV[3])
  if not record then
    return 0
  end
  if redis.call('ZREM', KEYS[1], user) == 0 then
    return 0
  end
  record_end_now(KEYS[3], user, record, issued, nonce)
  redis.call('HINCRBY', KEYS[2], 'completed', 1)
  return 1
end
register('queue_expire_token', queue_expire_token)
