-- seats_hold: holds a list of seats for one user, all or nothing.
-- A seat is taken when it is sold, or held by someone else whose hold has not
-- expired; an expired hold is free without any sweeper having run. Seats the
-- user already holds keep their original expiry (re-holding does not extend).
-- KEYS[1]: holds HASH (seat -> hold value, see hold_value)
-- KEYS[2]: sold SET (member "0" marks it rebuilt from Postgres)
-- KEYS[3]: user_holds HASH (user -> "seat,seat,...")
-- KEYS[4]: events STREAM (seats.held, and seats.released for a lapsed hold taken over)
-- ARGV[1]: user id
-- ARGV[2]: hold lifetime, ms
-- ARGV[3]: most seats one user may hold on this schedule
-- ARGV[4]: the queue the user was admitted through (named in the events)
-- ARGV[5..]: seat numbers (distinct)
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

  local taken, fresh, lapsed = {}, {}, {}
  for i = 5, #ARGV do
    local seat = ARGV[i]
    if redis.call('SISMEMBER', KEYS[2], seat) == 1 then
      taken[#taken + 1] = seat
    elseif not mine[seat] then
      local holder, expiry = hold_parse(redis.call('HGET', KEYS[1], seat))
      if expiry > now then
        taken[#taken + 1] = seat
      else
        fresh[#fresh + 1] = seat
        if holder then
          lapsed[#lapsed + 1] = {holder, seat, expiry}
        end
      end
    end
  end
  if #taken > 0 then
    return {'taken', unpack(taken)}
  end
  if #mine_list + #fresh > tonumber(ARGV[3]) then
    return {'limit', #mine_list}
  end

  -- A lapsed hold taken over is released now: the sweep will not see it.
  for _, old in ipairs(lapsed) do
    emit_event(KEYS[4], 'seats.released', 'queue', '', 'userId', old[1], 'seats', old[2],
      'reason', 'lapsed', 'lapsedAtMs', old[3])
  end
  local expiry = now + tonumber(ARGV[2])
  for _, seat in ipairs(fresh) do
    redis.call('HSET', KEYS[1], seat, hold_value(user, expiry))
    mine[seat] = expiry
    mine_list[#mine_list + 1] = seat
  end
  redis.call('HSET', KEYS[3], user, table.concat(mine_list, ','))
  if #fresh > 0 then
    emit_event(KEYS[4], 'seats.held', 'queue', ARGV[4], 'userId', user, 'seats', table.concat(fresh, ','),
      'expiresAtMs', expiry)
  end

  local result = {'held'}
  for i = 5, #ARGV do
    result[#result + 1] = mine[ARGV[i]]
  end
  return result
end
register('seats_hold', seats_hold)
