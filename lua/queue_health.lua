-- queue_health: adds one instance's booking samples (holds and payments
-- answered since its last report) to the queue's health record: a ring of
-- per-second hashes, so every instance's samples of the same second land in
-- the same hash and the adaptive admission step (queue_adapt) reads one window
-- for all of them. The second comes from Redis's clock, not the instance's.
-- KEYS[1..N]: the ring of per-second HASHes (t = the second, n = samples,
--   e = errors, "<bucket>" = samples in that latency bucket)
-- ARGV[1]: samples
-- ARGV[2]: errors (answers of 500 or more, and requests cut off)
-- ARGV[3..]: bucket, count pairs (bucket b holds latencies up to 1.25^b ms)
-- Returns: the 1-based slot written
local function queue_health(KEYS, ARGV)
  local _, now_s = now_ms()
  local slot = now_s % #KEYS + 1
  local key = KEYS[slot]
  if redis.call('HGET', key, 't') ~= tostring(now_s) then
    -- The slot last held a second one ring ago: start it afresh.
    redis.call('DEL', key)
    redis.call('HSET', key, 't', now_s)
  end
  redis.call('HINCRBY', key, 'n', ARGV[1])
  if ARGV[2] ~= '0' then
    redis.call('HINCRBY', key, 'e', ARGV[2])
  end
  for i = 3, #ARGV, 2 do
    redis.call('HINCRBY', key, ARGV[i], ARGV[i + 1])
  end
  -- A queue nobody books in leaves nothing behind.
  redis.call('EXPIRE', key, #KEYS * 2)
  return slot
end
register('queue_health', queue_health)
