-- seats_finalize_sale: after a sale committed in Postgres, marks its seats sold
-- and drops the buyer's holds. Always adds to the sold set, even when it is
-- missing: a rebuild from Postgres adds the marker and unions with what is
-- here, so no committed sale is lost.
-- KEYS[1]: holds HASH
-- KEYS[2]: sold SET
-- KEYS[3]: user_holds HASH
-- ARGV[1]: user id
-- ARGV[2..]: seat numbers sold
-- Returns: the number of seats newly marked sold.
local function seats_finalize_sale(KEYS, ARGV)
  local user = ARGV[1]
  local added = 0
  for i = 2, #ARGV do
    local seat = ARGV[i]
    added = added + redis.call('SADD', KEYS[2], seat)
    if hold_parse(redis.call('HGET', KEYS[1], seat)) == user then
      redis.call('HDEL', KEYS[1], seat)
    end
  end
  local list = redis.call('HGET', KEYS[3], user)
  if list then
    local sold, rest = {}, {}
    for i = 2, #ARGV do
      sold[ARGV[i]] = true
    end
    for seat in string.gmatch(list, '%d+') do
      if not sold[seat] then
        rest[#rest + 1] = seat
      end
    end
    if #rest == 0 then
      redis.call('HDEL', KEYS[3], user)
    else
      redis.call('HSET', KEYS[3], user, table.concat(rest, ','))
    end
  end
  return added
end
register('seats_finalize_sale', seats_finalize_sale)
