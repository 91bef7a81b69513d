-- The taken seats of a schedule: sold ones and those under an unexpired hold.
-- KEYS[1]: holds HASH
-- KEYS[2]: sold SET
-- Returns: {"unsynced"} when the sold set must first be rebuilt from Postgres,
--   else {"ok", n_sold, sold seat..., held seat...}.
if redis.call('SISMEMBER', KEYS[2], '0') == 0 then
  return {'unsynced'}
end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local sold = redis.call('SMEMBERS', KEYS[2])
local result = {'ok', #sold - 1}
for _, seat in ipairs(sold) do
  if seat ~= '0' then
    result[#result + 1] = seat
  end
end
local holds = redis.call('HGETALL', KEYS[1])
for i = 1, #holds, 2 do
  if tonumber(string.match(holds[i + 1], ':(%d+)$')) > now_ms then
    result[#result + 1] = holds[i]
  end
end
return result
