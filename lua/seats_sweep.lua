-- seats_sweep: tidies a schedule by forgetting lapsed holds. Correctness never
-- depends on it (lapsed holds are already free); it only keeps the hashes small.
-- KEYS[1]: holds HASH
-- KEYS[2]: user_holds HASH
-- KEYS[3]: events STREAM (seats.released, one per holder whose holds lapsed)
-- Returns: the number of lapsed holds removed.
local function seats_sweep(KEYS, ARGV)
  local now = now_ms()
  local holds = redis.call('HGETALL', KEYS[1])
  local live, gone = {}, {}
  local removed = 0
  for i = 1, #holds, 2 do
    local holder, expiry = hold_parse(holds[i + 1])
    if expiry > now then
      live[holder] = live[holder] or {}
      table.insert(live[holder], holds[i])
    else
      redis.call('HDEL', KEYS[1], holds[i])
      removed = removed + 1
      if holder then
        gone[holder] = gone[holder] or {seats = {}, at = 0}
        table.insert(gone[holder].seats, holds[i])
        gone[holder].at = math.max(gone[holder].at, expiry)
      end
    end
  end
  for holder, lapsed in pairs(gone) do
    emit_event(KEYS[3], 'seats.released', 'queue', '', 'userId', holder,
      'seats', table.concat(lapsed.seats, ','), 'reason', 'lapsed', 'lapsedAtMs', lapsed.at)
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
end
register('seats_sweep', seats_sweep)
