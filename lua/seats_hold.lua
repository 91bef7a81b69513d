-- seats_hold: holds a list of seats for one user, all or nothing.
-- A seat is taken when it is sold, or held by someone else whose hold has not
-- expired; an expired hold is free without any sweeper having run. Seats the
-- user already holds keep their original expiry (re-holding does not extend).
-- KEYS[1]: holds HASH (seat -> hold value, see hold_value)
-- KEYS[2]: sold SET (member "0" marks it rebuilt from Postgres)
-- KEYS[3]: user_holds HASH (user -> "seat,seat,...")
-- ARGV[1]: user id
-- ARGV[2]: hold lifetime, ms
-- ARGV[3]: most seats one user may hold on this schedule
-- ARGV[4..]: seat numbers (distinct)
-- Returns: {"unsynced"} when the sold set must first be rebuilt from Postgres,
--   {"taken", seat...}, {"limit", seats_already_held}, or
--   {"held", expiry_ms...} with one expiry per requested seat, in order.
local function seats_hold(KEYS, ARGV)
  if redis.call('SISMEMBER', KEYS[2], '0') == 0 then
    return {'unsynced'}
  end
  local now = now_ms()
  local user = ARGV[1]

  local mine, mine_list = {}, {}
  local list = redis.call('HGET', KEYS[3], user)
  if list then
    for seat in string.gmatch(list, '%d+') do
      local holder, expiry = hold_parse(redis.call('HGET', KEYS[1], seat))
      if holder == user and expiry > now then
        mine[seat] = expiry
        mine_list[#mine_list + 1] = seat
      end
    end
  end

  local taken, fresh = {}, {}
  for i = 4, #ARGV do
    local seat = ARGV[i]
    if redis.call('SISMEMBER', KEYS[2], seat) == 1 then
      taken[#taken + 1] = seat
    elseif not mine[seat] then
      local _, expiry = hold_parse(redis.call('HGET', KEYS[1], seat))
      if expiry > now then
        taken[#taken + 1] = seat
      else
        fresh[#fresh + 1] = seat
      end
    end
  end
  if #taken > 0 then
    return {'taken', unpack(taken)}
  end
  if #mine_list + #fresh > tonumber(ARGV[3]) then
    return {'limit', #mine_list}
  end

  local expiry = now + tonumber(ARGV[2])
  for _, seat in ipairs(fresh) do
    redis.call('HSET', KEYS[1], seat, hold_value(user, expiry))
    mine[seat] = expiry
    mine_list[#mine_list + 1] = seat
  end
  redis.call('HSET', KEYS[3], user, table.concat(mine_list, ','))

  local result = {'held'}
  for i = 4, #ARGV do
    result[#result + 1] = mine[ARGV[i]]
  end
  return result
end
register('seats_hold', seats_hold)
