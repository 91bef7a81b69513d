-- seats_user_holds: the seats a user validly holds on a schedule, for payment.
-- Reads only.
-- KEYS[1]: holds HASH
-- KEYS[2]: user_holds HASH
-- ARGV[1]: user id
-- Returns: {"none"} when the user holds nothing, {"expired"} when every hold has
--   lapsed, else {"held", seat, expiry_ms, seat, expiry_ms, ...}.
local function seats_user_holds(KEYS, ARGV)
  local now = now_ms()
  local user = ARGV[1]
  local list = redis.call('HGET', KEYS[2], user)
  if not list then
    return {'none'}
  end
  local result, lapsed = {'held'}, 0
  for seat in string.gmatch(list, '%d+') do
    local holder, expiry = hold_parse(redis.call('HGET', KEYS[1], seat))
    if holder == user and expiry > now then
      result[#result + 1] = seat
      result[#result + 1] = expiry
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
end
register('seats_user_holds', seats_user_holds, {'no-writes'})
