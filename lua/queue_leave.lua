-- queue_leave: a visitor gives up the place at once (waiting, in the pre-queue
-- or admitted), so those behind move up and an admitted one's slot frees.
-- KEYS[1]: waiting ZSET
-- KEYS[2]: active ZSET
-- KEYS[3]: pre-queue ZSET
-- KEYS[4]: the user's meta HASH bucket (the user record, see record_pack)
-- KEYS[5]: events STREAM (queue.left is written there)
-- ARGV[1]: user id
-- ARGV[2]: issued_s of the token giving the place up
-- ARGV[3]: nonce of that token
-- Returns: 1 when a place was given up, else 0 (an older token, or nothing held).
local function queue_leave(KEYS, ARGV)
  local user = ARGV[1]
  local record, issued, nonce = record_of_token(KEYS[4], user, ARGV[2], ARGV[3])
  if not record then
    return 0
  end
  local left = redis.call('ZREM', KEYS[1], user) + redis.call('ZREM', KEYS[2], user)
    + redis.call('ZREM', KEYS[3], user)
  if left == 0 then
    return 0
  end
  record_end_now(KEYS[4], user, record, issued, nonce)
  emit_event(KEYS[5], 'queue.left', 'userId', user)
  return 1
end
register('queue_leave', queue_leave)
