-- Lists the seats a user validly holds on a schedule, for payment.
-- KEYS[1]: holds HASH
-- KEYS[2]: user_holds HASH
-- ARGV[1]: user id
-- Returns: {"none"} when the user holds nothing, {"expired"} when every hold has
--   lapsed, else {"held", seat, expiry_ms, seat, expiry_ms, ...}.
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local user = ARGV[1]
local list = redis.call('HGET', KEYS[2], user)
if not list then
  return {'none'}
end
local result, lapsed = {'held'}, 0
for seat in string.gmatch(list, '%d+') do
  local hold = redis.call('HGET', KEYS[1], seat)
  local holder, expiry
  if hold then
    holder, expiry = string.match(hold, '^(%d+):(%d+)$')
  end
  if holder == user and tonumber(expiry) > now_ms then
    result[#result + 1] = seat
    result[#result + 1] = tonumber(expiry)
  else
    lapsed = lapsed + 1
  end
end
if #result == 1 then
  if lapsed > 0 then
    return {'expired'}
  end
  return {'none'}
end
return result
