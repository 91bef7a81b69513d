-- One admission step of a queue: drop expired active tokens, then move the head
-- of the line into the active set, within free capacity and the admission rate.
-- The rate is a token bucket stored in the stats hash and refilled from Redis's
-- clock, so any number of instances running this together admit no more than one.
-- Users idle past the timeout are removed, not admitted.
-- The queue's live settings (set by operators through the admin API) are read
-- here, so every instance follows a change at its next step: state `paused`
-- admits nobody; `max_active` and `admit_rate` override the defaults in ARGV.
-- A queue in adaptive mode admits at the rate its adaptive step set
-- (`adaptive_rate` in the stats hash, see queue_adapt) instead.
--
-- Whether a user is alive is in the user's record, whose meta bucket the
-- caller names: so a step is two calls, queue_admit_head (which users the step
-- may examine) and queue_admit (the step, given those users' buckets). The
-- line may move in between; queue_admit stops at the first user it was not
-- given, and says so.
--
-- Both take:
-- KEYS[1]: waiting ZSET
-- KEYS[2]: active ZSET
-- KEYS[3]: stats HASH (last_ms, allowance, rate, rate60, admitted, abandoned, expired, adaptive_rate)
-- KEYS[4]: settings HASH (state, max_active, admit_rate, adaptive_target_p99_ms; any may be absent)
-- KEYS[5]: events STREAM (queue_admit writes queue.admitted and queue.timed_out there)
-- ARGV[1]: max active users by default (0 = unlimited)
-- ARGV[2]: admission rate by default, users/s (0 = unlimited)
-- ARGV[3]: burst window, ms: after a pause a step admits at most this long's worth
-- ARGV[4]: most users examined in one step (keeps the call short)
-- ARGV[5]: elapsed time assumed on the very first step, ms

-- How many one step may admit now: {want, rate, allowance, elapsed_ms}, from
-- the settings, the token bucket and `active`, the live admissions.
local function admission_budget(KEYS, ARGV, now, active)
  local max_active = tonumber(ARGV[1])
  local rate = tonumber(ARGV[2])
  local settings = redis.call('HMGET', KEYS[4], 'state', 'max_active', 'admit_rate', 'adaptive_target_p99_ms')
  if settings[2] then
    max_active = tonumber(settings[2])
  end
  if settings[3] then
    rate = tonumber(settings[3])
  end
  if settings[4] then
    -- Never 0 here (which would mean unlimited): the adaptive floor is at least 1.
    rate = math.max(1, tonumber(redis.call('HGET', KEYS[3], 'adaptive_rate') or rate))
  end
  local burst = math.max(1, math.floor(rate * tonumber(ARGV[3]) / 1000))

  local last_ms = tonumber(redis.call('HGET', KEYS[3], 'last_ms') or '0')
  local elapsed_ms = tonumber(ARGV[5])
  if last_ms > 0 then
    elapsed_ms = math.max(0, now - last_ms)
  end

  local want = tonumber(ARGV[4])
  if settings[1] == 'paused' then
    want = 0
  end
  if max_active > 0 then
    want = math.min(want, math.max(0, max_active - active))
  end
  local allowance = 0
  if rate > 0 then
    allowance = tonumber(redis.call('HGET', KEYS[3], 'allowance') or '0')
    allowance = math.min(burst, allowance + rate * elapsed_ms / 1000)
    want = math.min(want, math.floor(allowance))
  end
  return want, rate, allowance, elapsed_ms
end

-- queue_admit_head: the users at the head of the line that the next step may
-- examine: as many as it may admit now, and as many again (at least 32 more)
-- for those it will find gone; never more than ARGV[4]. Reads only.
-- Returns: user ids, first in line first.
local function queue_admit_head(KEYS, ARGV)
  local now = now_ms()
  local active = redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')
  local want = admission_budget(KEYS, ARGV, now, active)
  if want <= 0 then
    return {}
  end
  local examine = math.min(tonumber(ARGV[4]), want * 2 + 32)
  return redis.call('ZRANGE', KEYS[1], 0, examine - 1)
end

-- queue_admit: the step. Each user admitted, each active token expired and
-- each user gone idle in line is an event on KEYS[5] (emit_event).
-- KEYS[6..]: the meta HASH bucket of each user in ARGV[9..], in that order
-- ARGV[6]: idle timeout, seconds
-- ARGV[7]: active token lifetime, ms
-- ARGV[8]: time constant of the measured-rate average, seconds
-- ARGV[9..]: users at the head of the line (from queue_admit_head)
-- Returns: {admitted, expired_active, abandoned, active_now, waiting_now, rate, short}
--   rate: the measured admission rate (users/s, a string; "" before any),
--   averaged over ARGV[8] seconds; `rate60` in the stats hash is the same over 60 s;
--   short: 1 when the step stopped at a user it was not given, with more to admit.
local function queue_admit(KEYS, ARGV)
  local now, now_s = now_ms()
  local idle = tonumber(ARGV[6])
  local ttl_ms = tonumber(ARGV[7])
  local buckets = {}
  for i = 9, #ARGV do
    buckets[ARGV[i]] = KEYS[i - 3]
  end

  for _, user in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
    emit_event(KEYS[5], 'queue.timed_out', 'userId', user, 'reason', 'active')
  end
  local expired = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  local active = redis.call('ZCARD', KEYS[2])
  local waiting_before = redis.call('ZCARD', KEYS[1])
  local want, rate, allowance, elapsed_ms = admission_budget(KEYS, ARGV, now, active)
  local max_examined = tonumber(ARGV[4])

  local admitted, abandoned, examined, short = 0, 0, 0, 0
  while admitted < want and examined < max_examined and short == 0 do
    local head = redis.call('ZRANGE', KEYS[1], 0, math.min(want - admitted, max_examined - examined) - 1)
    if #head == 0 then
      break
    end
    local taken = 0
    for _, user in ipairs(head) do
      local bucket = buckets[user]
      if not bucket then
        short = 1
        break
      end
      taken = taken + 1
      local record = redis.call('HGET', bucket, user)
      local alive, issued = false, now_s
      if record then
        local seen
        issued, _, seen = record_head(record)
        alive = issued + seen + idle >= now_s
      end
      if alive then
        redis.call('ZADD', KEYS[2], now + ttl_ms, user)
        admitted = admitted + 1
        emit_event(KEYS[5], 'queue.admitted', 'userId', user, 'waitedS', math.max(0, now_s - issued))
      else
        abandoned = abandoned + 1
        emit_event(KEYS[5], 'queue.timed_out', 'userId', user, 'reason', 'idle')
      end
    end
    if taken > 0 then
      redis.call('ZREMRANGEBYRANK', KEYS[1], 0, taken - 1)
    end
    examined = examined + taken
  end

  if rate > 0 then
    allowance = allowance - admitted
  end
  local fields = {'last_ms', now, 'allowance', tostring(allowance)}
  local measured = redis.call('HGET', KEYS[3], 'rate') or ''
  -- Measured throughput, an exponentially weighted average over ARGV[8] seconds,
  -- updated only while people wait (an empty line says nothing about the rate)
  -- and only over a real interval (a second instance stepping at once adds nothing).
  if waiting_before > 0 and elapsed_ms >= 50 then
    local instant = admitted * 1000 / elapsed_ms
    -- A burst of allowance saved while the line was empty is not sustained
    -- throughput: no sample may exceed the configured rate.
    if rate > 0 then
      instant = math.min(instant, rate)
    end
    local previous = instant
    if measured ~= '' then
      previous = tonumber(measured)
    end
    local weight = 1 - math.exp(-(elapsed_ms / 1000) / tonumber(ARGV[8]))
    measured = string.format('%.3f', previous + weight * (instant - previous))
    fields[#fields + 1] = 'rate'
    fields[#fields + 1] = measured
    local previous60 = tonumber(redis.call('HGET', KEYS[3], 'rate60') or tostring(instant))
    local weight60 = 1 - math.exp(-(elapsed_ms / 1000) / 60)
    fields[#fields + 1] = 'rate60'
    fields[#fields + 1] = string.format('%.3f', previous60 + weight60 * (instant - previous60))
  end
  redis.call('HSET', KEYS[3], unpack(fields))
  if admitted > 0 then
    redis.call('HINCRBY', KEYS[3], 'admitted', admitted)
  end
  if abandoned > 0 then
    redis.call('HINCRBY', KEYS[3], 'abandoned', abandoned)
  end
  if expired > 0 then
    redis.call('HINCRBY', KEYS[3], 'expired', expired)
  end
  return {admitted, expired, abandoned, active + admitted, waiting_before - examined, measured, short}
end
register('queue_admit_head', queue_admit_head, {'no-writes'})
register('queue_admit', queue_admit)
