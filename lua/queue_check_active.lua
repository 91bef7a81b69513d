-- queue_check_active: the booking gate. Is this exact token (user, issue time,
-- nonce) active now? Read-only while Redis has the user: using an active token
-- does not extend it. After Redis lost the admission (its data, or the last
-- writes before a failover), the active token is honoured until its signed
-- expiry: the user is put back into the active set. Lost means what
-- queue_standing says: no record while the token is younger than the record's
-- TTL, or a record of an older place than the token's.
-- KEYS[1]: waiting ZSET
-- KEYS[2]: active ZSET
-- KEYS[3]: the user's meta HASH bucket (the user record, see record_pack)
-- KEYS[4]: stats HASH (unused: kept so that callers need not change)
-- KEYS[5]: pre-queue ZSET
-- ARGV[1]: user id
-- ARGV[2]: issued_s from the token
-- ARGV[3]: nonce from the token
-- ARGV[4]: sequence from the token (0 for tokens that carry none)
-- ARGV[5]: active until, ms, from the token (0 for a waiting token)
-- ARGV[6]: meta bucket TTL, seconds
-- Returns: {state, value}: {1, expiry_ms} active, {2, position} waiting,
--   {3, 0} expired, {4, 0} stale (the user holds a newer token), {0, 0} never joined
local function queue_check_active(KEYS, ARGV)
  local user = ARGV[1]
  local now, now_s = now_ms()
  local record = redis.call('HGET', KEYS[3], user)
  local issued, t_seq, t_until = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local lost
  if record then
    lost = t_seq > record_seq(record)
  else
    lost = t_seq > 0 and now_s < issued + tonumber(ARGV[6])
  end
  if lost and t_until > now then
    redis.call('ZREM', KEYS[1], user)
    redis.call('ZADD', KEYS[2], t_until, user)
    redis.call('HSET', KEYS[3], user, record_pack(issued, tonumber(ARGV[3]), math.max(0, now_s - issued), t_seq))
    redis.call('EXPIRE', KEYS[3], ARGV[6])
    return {1, t_until}
  end
  if not record then
    return {0, 0}
  end
  local r_issued, r_nonce = record_head(record)
  if r_issued ~= issued or r_nonce ~= tonumber(ARGV[3]) then
    return {4, 0}
  end
  local expiry = redis.call('ZSCORE', KEYS[2], user)
  if expiry then
    if tonumber(expiry) > now then
      return {1, tonumber(expiry)}
    end
    return {3, 0}
  end
  local rank = redis.call('ZRANK', KEYS[1], user)
  if rank and t_until > now then
    -- This place's token says admitted, Redis has the user waiting: the
    -- admission was lost (a failover's last writes). It stands until its end.
    redis.call('ZREM', KEYS[1], user)
    redis.call('ZADD', KEYS[2], t_until, user)
    return {1, t_until}
  end
  if rank then
    return {2, rank + 1}
  end
  if redis.call('ZSCORE', KEYS[5], user) then
    -- In the pre-queue: waiting, with no place before the opening.
    return {2, 0}
  end
  return {3, 0}
end
register('queue_check_active', queue_check_active)
