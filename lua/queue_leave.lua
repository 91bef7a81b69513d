-- queue_leave: a visitor gives up the place at once (waiting, in the pre-queue
-- or admitted), so those behind move up and an admitted one's slot frees.
-- KEYS[1]: waiting ZSET
-- KEYS[2]: active ZSET
-- KEYS[3]: pre-queue ZSET
-- KEYS[4]: the user's meta HASH bucket (the user record, see record_pack)
-- ARGV[1]: user id
-- ARGV[2]: issued_s of the token giving the place up
-- ARGV[3]: nonce of that token
-- Returns: 1 when a place was given up, else 0 (an older token, or nothing held).
local function queue_leave(KEYS, ARGV)
  local user = ARGV[1]
  local record = redis.call('HGET', KEYS[4], user)
  if not record then
    return 0
  end
  local issued, nonce = record_head(record)
  if issued ~= tonumber(ARGV[2]) or nonce ~= tonumber(ARGV[3]) then
    return 0
  end
  local left = redis.call('ZREM', KEYS[1], user) + redis.call('ZREM', KEYS[2], user)
    + redis.call('ZREM', KEYS[3], user)
  if left == 0 then
    return 0
  end
  -- Ended now, as an expired token: polls report it so, a join starts afresh.
  local _, now_s = now_ms()
  redis.call('HSET', KEYS[4], user, record_seen(record, issued, nonce, math.max(0, now_s - issued)))
  return 1
end
register('queue_leave', queue_leave)
