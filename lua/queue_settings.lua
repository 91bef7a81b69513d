-- Changes a queue's live settings and records the change, in one step: the
-- admission step (queue_admit.lua) and joins (queue_standing.lua) read the
-- settings hash themselves, so every instance follows at its next call.
-- KEYS[1]: settings HASH
-- KEYS[2]: events STREAM (capped)
-- ARGV[1]: who (the admin token's fingerprint)
-- ARGV[2]: most events kept
-- ARGV[3..]: field, value pairs; an empty value removes the field (back to the default)
-- Returns: {before, after}, each a flat list field, value, ... of the hash.
local before = redis.call('HGETALL', KEYS[1])
local changes = {}
for i = 3, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  if value == '' then
    redis.call('HDEL', KEYS[1], field)
  else
    redis.call('HSET', KEYS[1], field, value)
  end
  changes[field] = value
end
local after = redis.call('HGETALL', KEYS[1])
local function as_object(flat)
  local object = {}
  for i = 1, #flat, 2 do
    object[flat[i]] = flat[i + 1]
  end
  return object
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*',
  'who', ARGV[1],
  'changes', cjson.encode(changes),
  'before', cjson.encode(as_object(before)),
  'after', cjson.encode(as_object(after)))
return {before, after}
