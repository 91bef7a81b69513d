-- queue_settings: writes Redis's copy of a queue's live settings, whose truth
-- is in Postgres: after a change, and when Redis lost it. The admission step
-- (queue_admit) and joins (queue_standing) read the hash themselves, so every
-- instance follows at its next call. Each copy carries the version Postgres
-- gave it, and an older one never replaces a newer one: two instances writing
-- the changes they made in the opposite order leave the newest.
-- KEYS[1]: settings HASH (field `version` and the settings)
-- ARGV[1]: the version in Postgres
-- ARGV[2..]: field, value pairs: every setting that is set (the rest follow the defaults)
-- Returns: 1 when written, 0 when Redis held this version or a newer one.
local function queue_settings(KEYS, ARGV)
  local held = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
  if held >= tonumber(ARGV[1]) then
    return 0
  end
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'version', ARGV[1], unpack(ARGV, 2))
  return 1
end
register('queue_settings', queue_settings)
