-- seats_state: the taken seats of a schedule, sold ones and those under an
-- unexpired hold. Reads only.
-- KEYS[1]: holds HASH
-- KEYS[2]: sold SET
-- Returns: {"unsynced"} when the sold set must first be rebuilt from Postgres,
--   else {"ok", n_sold, sold seat..., held seat...}.
local function seats_state(KEYS, ARGV)
  if redis.call('SISMEMBER', KEYS[2], '0') == 0 then
    return {'unsynced'}
  end
  local now = now_ms()
  local sold = redis.call('SMEMBERS', KEYS[2])
  local result = {'ok', #sold - 1}
  for _, seat in ipairs(sold) do
    if seat ~= '0' then
      result[#result + 1] = seat
    end
  end
  local holds = redis.call('HGETALL', KEYS[1])
  for i = 1, #holds, 2 do
    local _, expiry = hold_parse(holds[i + 1])
    if expiry > now then
      result[#result + 1] = holds[i]
    end
  end
  return result
end
register('seats_state', seats_state, {'no-writes'})
