-- queue_adapt: one step of adaptive admission. Sets the admission rate of a
-- queue in adaptive mode from the booking health of the last few seconds,
-- recorded by every instance (queue_health). Additive increase, multiplicative decrease:
--   * slow (booking p99 above the target, or too many errors, over at least
--     ARGV[3] samples): the rate is cut to decrease_to_percent of itself, not
--     below min_rate; the next cut waits one window, so the slow samples that
--     caused this cut do not cause the next one too;
--   * healthy, with people waiting: the rate rises by increase_by, not above
--     max_rate (with nobody waiting the rate is not in use, so it proves nothing);
--   * otherwise it holds.
-- At most one step per ARGV[2] ms whatever the number of instances: the first
-- instance to call in a period makes it; the others read it.
-- The admission step (queue_admit) then admits at `adaptive_rate`.
-- KEYS[1]: settings HASH (adaptive_target_p99_ms, adaptive_min_rate, adaptive_max_rate,
--   adaptive_increase_by, adaptive_decrease_to_percent, adaptive_max_error_percent, admit_rate)
-- KEYS[2]: stats HASH (adaptive_rate, adaptive_at_ms, adaptive_cut_until_ms, and the
--   last step's adaptive_p99_ms, adaptive_samples, adaptive_errors, adaptive_decision)
-- KEYS[3]: waiting ZSET
-- KEYS[4]: events STREAM (a step that changes the rate writes admission.rate_changed there)
-- KEYS[5..]: the health ring (see queue_health)
-- ARGV[1]: window, seconds (the current second and the ones before it)
-- ARGV[2]: control period, ms
-- ARGV[3]: fewest samples that say anything
-- ARGV[4]: the default admission rate (a queue with no admit_rate setting)
-- Returns: {decision, rate, p99_ms, samples, errors}
--   decision: "off" (not adaptive), "wait" (this period's step is made), "up", "down", "hold"
local function queue_adapt(KEYS, ARGV)
  local s = redis.call('HMGET', KEYS[1], 'adaptive_target_p99_ms', 'adaptive_min_rate',
    'adaptive_max_rate', 'adaptive_increase_by', 'adaptive_decrease_to_percent',
    'adaptive_max_error_percent', 'admit_rate')
  if not s[1] then
    return {'off', 0, 0, 0, 0}
  end
  local target = tonumber(s[1])
  local min_rate = tonumber(s[2] or '1')
  local max_rate = tonumber(s[3] or s[2] or '1')
  local increase_by = tonumber(s[4] or '1')
  local decrease_to = tonumber(s[5] or '70')
  local max_error = tonumber(s[6] or '1')

  local now, now_s = now_ms()
  local kept = redis.call('HMGET', KEYS[2], 'adaptive_rate', 'adaptive_at_ms', 'adaptive_cut_until_ms',
    'adaptive_p99_ms', 'adaptive_samples', 'adaptive_errors')
  -- A queue just made adaptive starts from its fixed rate, within the bounds.
  local rate = tonumber(kept[1] or s[7] or ARGV[4])
  rate = math.max(min_rate, math.min(max_rate, rate))
  if kept[2] and now - tonumber(kept[2]) < tonumber(ARGV[2]) then
    return {'wait', rate, tonumber(kept[4] or '0'), tonumber(kept[5] or '0'), tonumber(kept[6] or '0')}
  end

  -- The window: every slot of the ring stamped with one of its seconds.
  local window = tonumber(ARGV[1])
  local samples, errors = 0, 0
  local buckets = {}
  for i = 5, #KEYS do
    local flat = redis.call('HGETALL', KEYS[i])
    local second, n, e = nil, 0, 0
    local slot = {}
    for j = 1, #flat, 2 do
      local field, value = flat[j], tonumber(flat[j + 1])
      if field == 't' then
        second = value
      elseif field == 'n' then
        n = value
      elseif field == 'e' then
        e = value
      else
        slot[tonumber(field)] = value
      end
    end
    if second and second <= now_s and second > now_s - window then
      samples = samples + n
      errors = errors + e
      for bucket, count in pairs(slot) do
        buckets[bucket] = (buckets[bucket] or 0) + count
      end
    end
  end

  -- p99: the upper bound of the bucket holding the 99th percentile sample.
  local p99 = 0
  if samples > 0 then
    local rank = math.ceil(samples * 0.99)
    local seen, top = 0, 0
    for bucket in pairs(buckets) do
      top = math.max(top, bucket)
    end
    for bucket = 0, top do
      seen = seen + (buckets[bucket] or 0)
      if seen >= rank then
        p99 = math.ceil(1.25 ^ bucket)
        break
      end
    end
  end

  local decision, reason, before = 'hold', nil, rate
  local cut_until = tonumber(kept[3] or '0')
  local slow = samples >= tonumber(ARGV[3]) and (p99 > target or errors * 100 > max_error * samples)
  if slow then
    if now >= cut_until then
      rate = math.max(min_rate, math.floor(rate * decrease_to / 100))
      cut_until = now + window * 1000
      decision = 'down'
      reason = (p99 > target) and 'p99_over_target' or 'errors_over_limit'
    end
  elseif redis.call('ZCARD', KEYS[3]) > 0 and rate < max_rate then
    rate = math.min(max_rate, rate + increase_by)
    decision = 'up'
    reason = 'healthy'
  end
  if rate ~= before then
    emit_event(KEYS[4], 'admission.rate_changed', 'from', before, 'to', rate, 'decision', decision,
      'reason', reason, 'p99Ms', p99, 'targetP99Ms', target, 'samples', samples, 'errors', errors)
  end
  redis.call('HSET', KEYS[2], 'adaptive_rate', rate, 'adaptive_at_ms', now,
    'adaptive_cut_until_ms', cut_until, 'adaptive_p99_ms', p99, 'adaptive_samples', samples,
    'adaptive_errors', errors, 'adaptive_decision', decision)
  return {decision, rate, p99, samples, errors}
end
register('queue_adapt', queue_adapt)
