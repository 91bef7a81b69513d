-- Tidies a schedule: forgets lapsed holds. Correctness never depends on it
-- (lapsed holds are already free); it only keeps the hashes small.
-- KEYS[1]: holds HASH
-- KEYS[2]: user_holds HASH
-- Returns: the number of lapsed holds removed.
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local holds = redis.call('HGETALL', KEYS[1])
local live = {}
local removed = 0
for i = 1, #holds, 2 do
  local holder, expiry = string.match(holds[i + 1], '^(%d+):(%d+)$')
  if tonumber(expiry) > now_ms then
    live[holder] = live[holder] or {}
    table.insert(live[holder], holds[i])
  else
    redis.call('HDEL', KEYS[1], holds[i])
    removed = removed + 1
  end
end
local users = redis.call('HKEYS', KEYS[2])
for _, user in ipairs(users) do
  if live[user] then
    redis.call('HSET', KEYS[2], user, table.concat(live[user], ','))
  else
    redis.call('HDEL', KEYS[2], user)
  end
end
return removed
