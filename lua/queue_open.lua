-- The opening of a queue: everyone in the pre-queue gets a place in the line,
-- in the order of their lottery tickets (random numbers drawn when they joined),
-- so arriving early buys nothing. One script, so a join or poll racing the
-- opening sees either the pre-queue or the whole line placed, never half of it;
-- everyone who joins after the opening goes behind them.
-- KEYS[1]: waiting ZSET
-- KEYS[2]: stats HASH (seq, seq_base)
-- KEYS[3]: pre-queue ZSET (user -> lottery ticket)
-- KEYS[4]: settings HASH (opens_at_ms)
-- ARGV[1]: meta bucket key prefix (same hash tag as KEYS)
-- ARGV[2]: users per meta bucket
-- ARGV[3]: meta bucket TTL, seconds
-- Returns: how many were placed (0 when it is not yet time, or nobody waits).
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local now_ms = now_s * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(redis.call('HGET', KEYS[4], 'opens_at_ms') or '0') > now_ms then
  return 0
end
local users = redis.call('ZRANGE', KEYS[3], 0, -1)
if #users == 0 then
  return 0
end
if not redis.call('HGET', KEYS[2], 'seq_base') then
  local start = string.format('%.0f', now_s * 1000000 + tonumber(t[2]))
  redis.call('HSET', KEYS[2], 'seq', start, 'seq_base', start)
end
local last = redis.call('HINCRBY', KEYS[2], 'seq', #users)
local first = last - #users + 1
local bucket_size = tonumber(ARGV[2])
local places = {}
for i, user in ipairs(users) do
  local seq = first + i - 1
  places[#places + 1] = string.format('%.0f', seq)
  places[#places + 1] = user
  local bucket = ARGV[1] .. math.floor(tonumber(user) / bucket_size)
  local meta = redis.call('HGET', bucket, user)
  if meta then
    -- The place's sequence goes into the record (and so into the token); the
    -- wait counts as having polled now.
    local issued, nonce = struct.unpack('>II', meta)
    redis.call('HSET', bucket, user, struct.pack('>IIId', issued, nonce, math.max(0, now_s - issued), seq))
    redis.call('EXPIRE', bucket, ARGV[3])
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
