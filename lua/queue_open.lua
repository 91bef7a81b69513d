-- queue_open: the opening of a queue. Everyone in the pre-queue gets a place
-- in the line, in the order of their lottery tickets (random numbers drawn
-- when they joined), so arriving early buys nothing. One call, so a join or
-- poll racing the opening sees either the pre-queue or the whole line placed,
-- never half of it; everyone who joins after the opening goes behind them.
-- The users' records are rewritten, so the caller names each one's meta
-- bucket: it calls with none first, and when the opening is due and people
-- wait, reads the pre-queue and calls again with them. Nobody enters the
-- pre-queue once the opening is due, so the second call finds the same people.
-- KEYS[1]: waiting ZSET
-- KEYS[2]: stats HASH (seq = last sequence issued, joined = places taken)
-- KEYS[3]: pre-queue ZSET (user -> lottery ticket)
-- KEYS[4]: settings HASH (opens_at_ms)
-- KEYS[5..]: the meta HASH bucket of each user in ARGV[2..], in that order
-- ARGV[1]: meta bucket TTL, seconds
-- ARGV[2..]: users of the pre-queue
-- Returns: how many were placed (0 when it is not yet time, or nobody waits),
--   or -n when the opening is due and the pre-queue holds n people, some of
--   them not among ARGV (nothing is changed: call again naming them all).
local function queue_open(KEYS, ARGV)
  local now, now_s, now_us = now_ms()
  if tonumber(redis.call('HGET', KEYS[4], 'opens_at_ms') or '0') > now then
    return 0
  end
  local users = redis.call('ZRANGE', KEYS[3], 0, -1)
  if #users == 0 then
    return 0
  end
  local buckets = {}
  for i = 2, #ARGV do
    buckets[ARGV[i]] = KEYS[i + 3]
  end
  for _, user in ipairs(users) do
    if not buckets[user] then
      return -#users
    end
  end

  -- Sequences as queue_standing draws them: the clock in µs, or past the last.
  local first = math.max(tonumber(redis.call('HGET', KEYS[2], 'seq') or 0) + 1, now_us)
  redis.call('HSET', KEYS[2], 'seq', string.format('%d', first + #users - 1))
  redis.call('HINCRBY', KEYS[2], 'joined', #users)
  local places = {}
  for i, user in ipairs(users) do
    local seq = first + i - 1
    places[#places + 1] = string.format('%d', seq)
    places[#places + 1] = user
    local bucket = buckets[user]
    local record = redis.call('HGET', bucket, user)
    if record then
      -- The place's sequence goes into the record (and so into the token); the
      -- wait counts as having polled now.
      local issued, nonce = record_head(record)
      redis.call('HSET', bucket, user, record_pack(issued, nonce, math.max(0, now_s - issued), seq))
      redis.call('EXPIRE', bucket, ARGV[1])
    end
    if #places >= 1000 then
      redis.call('ZADD', KEYS[1], unpack(places))
      places = {}
    end
  end
  if #places > 0 then
    redis.call('ZADD', KEYS[1], unpack(places))
  end
  redis.call('DEL', KEYS[3])
  return #users
end
register('queue_open', queue_open)
