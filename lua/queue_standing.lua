-- A user's standing in one queue: join it (or get back the place already held),
-- or poll the place. One script for both, because both first ask the same thing
-- (is this user waiting and alive, active, or gone?); a join then takes a new
-- place at the back where a poll would report the user as gone.
-- The hot path of the whole service, so it does as little as it can: the
-- waiting set is checked first (most callers wait), and last-seen is rewritten
-- only when it is older than a tenth of the idle timeout.
--
-- Places survive a Redis that lost its data: the sequence number of a place is
-- signed into the user's token, and a caller presenting a token from before the
-- loss (its sequence below the queue's current `seq_base`) is put back at that
-- sequence, or back into the active set until the token's signed expiry. A new
-- sequence starts at Redis's clock in microseconds, above every sequence issued
-- before (joins never outpace the clock), so restored places stay ahead of
-- everyone who joined after the loss, in their original order.
--
-- KEYS[1]: waiting ZSET (user -> join sequence)
-- KEYS[2]: active ZSET (user -> expiry ms)
-- KEYS[3]: stats HASH (seq = last sequence issued, seq_base = the sequence this
--   Redis started from, abandoned, expired)
-- KEYS[4]: the user's meta HASH bucket (user -> 20 bytes, struct '>IIId':
--   issued_s, nonce, last seen as seconds after issued_s, sequence; binary
--   because it is smaller than text and struct.unpack is cheaper than a pattern)
-- KEYS[5]: settings HASH (state: a `closed` queue refuses new places;
--   opens_at_ms: before it, joins enter the pre-queue)
-- KEYS[6]: pre-queue ZSET (user -> lottery ticket), placed at the opening by queue_open.lua
-- ARGV[1]: "join" or "poll"
-- ARGV[2]: user id
-- ARGV[3]: idle timeout, seconds
-- ARGV[4]: join only: nonce for a new token
-- ARGV[5]: meta bucket TTL, seconds
-- ARGV[6..9]: only when the caller presented a verified token of this queue and
--   user: its issued_s, nonce, sequence, active until (ms, 0 while waiting)
-- Returns: {state, position, issued_s, nonce, expiry_ms, sequence}
--   state 1 waiting (position >= 1), 2 active, 3 expired, 0 never joined (poll
--   only; also when the record has lapsed), 4 closed (a join that would have
--   taken a new place), 5 in the pre-queue (expiry_ms: the opening), 6 the
--   opening is due: run queue_open.lua, then ask again.
local t = redis.call('TIME')
local now_s = tonumber(t[1])
local now_ms = now_s * 1000 + math.floor(tonumber(t[2]) / 1000)
local user = ARGV[2]
local idle = tonumber(ARGV[3])
local join = ARGV[1] == 'join'

-- The sequence a new place starts from, fixed by the first join of this Redis
-- (written out where needed, not as a local function: a closure made on every
-- call showed in the poll's cost).
local base_field = 'seq_base'

local meta = redis.call('HGET', KEYS[4], user)
if not meta then
  -- ARGV[6..9] are absent when the caller presented no token.
  local t_seq = tonumber(ARGV[8] or '0')
  local base = nil
  if t_seq > 0 then
    base = redis.call('HGET', KEYS[3], base_field)
    if not base then
      base = string.format('%.0f', now_s * 1000000 + tonumber(t[2]))
      redis.call('HSET', KEYS[3], 'seq', base, base_field, base)
    end
  end
  if t_seq > 0 and t_seq < tonumber(base) then
    local t_issued, t_nonce, t_until = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[9])
    -- A token from before Redis lost this user: put the place back.
    local restored = struct.pack('>IIId', t_issued, t_nonce, math.max(0, now_s - t_issued), t_seq)
    if t_until > now_ms then
      redis.call('ZADD', KEYS[2], t_until, user)
      redis.call('HSET', KEYS[4], user, restored)
      redis.call('EXPIRE', KEYS[4], ARGV[5])
      return {2, 0, t_issued, t_nonce, t_until, t_seq}
    end
    if t_until == 0 then
      redis.call('ZADD', KEYS[1], 'NX', string.format('%.0f', t_seq), user)
      redis.call('HSET', KEYS[4], user, restored)
      redis.call('EXPIRE', KEYS[4], ARGV[5])
      local rank = redis.call('ZRANK', KEYS[1], user)
      return {1, rank + 1, t_issued, t_nonce, (now_s + idle) * 1000, t_seq}
    end
    -- An admission whose time has run out is not given back.
  end
  if not join then
    return {0, 0, 0, 0, 0, 0}
  end
else
  local issued, nonce, seen = struct.unpack('>III', meta)
  local seq = 0
  if #meta >= 20 then
    seq = struct.unpack('>d', meta, 13)
  end
  seen = issued + seen
  local rank = redis.call('ZRANK', KEYS[1], user)
  if rank then
    if seen + idle >= now_s then
      if now_s - seen >= math.ceil(idle / 10) then
        redis.call('HSET', KEYS[4], user, struct.pack('>III', issued, nonce, now_s - issued) .. string.sub(meta, 13))
        seen = now_s
      end
      return {1, rank + 1, issued, nonce, (seen + idle) * 1000, seq}
    end
    redis.call('ZREM', KEYS[1], user)
    redis.call('HINCRBY', KEYS[3], 'abandoned', 1)
    if not join then
      return {3, 0, issued, nonce, (seen + idle) * 1000, seq}
    end
  else
    if redis.call('ZSCORE', KEYS[6], user) then
      -- In the pre-queue: no place until the opening, then a place drawn by lot.
      local opens = tonumber(redis.call('HGET', KEYS[5], 'opens_at_ms') or '0')
      if opens > now_ms then
        return {5, 0, issued, nonce, opens, 0}
      end
      return {6, 0, 0, 0, 0, 0}
    end
    local expiry = redis.call('ZSCORE', KEYS[2], user)
    if expiry then
      expiry = tonumber(expiry)
      if expiry > now_ms then
        return {2, 0, issued, nonce, expiry, seq}
      end
      redis.call('ZREM', KEYS[2], user)
      redis.call('HINCRBY', KEYS[3], 'expired', 1)
      if not join then
        return {3, 0, issued, nonce, expiry, seq}
      end
    elseif not join then
      -- Admitted and gone (paid, timed out, or skipped as abandoned): last activity time.
      return {3, 0, issued, nonce, seen * 1000, seq}
    end
  end
end

-- A closed queue takes no one new; people in line keep their places.
local gate = redis.call('HMGET', KEYS[5], 'state', 'opens_at_ms')
if gate[1] == 'closed' then
  return {4, 0, 0, 0, 0, 0}
end
-- Before the opening, a join enters the pre-queue with a lottery ticket (the
-- new token's nonce, drawn by the gateway); after it, the pre-queue must have
-- been placed before anyone goes behind it.
local opens = tonumber(gate[2] or '0')
if opens > now_ms then
  local ticket = tonumber(ARGV[4])
  redis.call('ZADD', KEYS[6], ticket, user)
  redis.call('HSET', KEYS[4], user, struct.pack('>IIId', now_s, ticket, 0, 0))
  redis.call('EXPIRE', KEYS[4], ARGV[5])
  return {5, 0, now_s, ticket, opens, 0}
end
if redis.call('EXISTS', KEYS[6]) == 1 then
  return {6, 0, 0, 0, 0, 0}
end
if not redis.call('HGET', KEYS[3], base_field) then
  local start = string.format('%.0f', now_s * 1000000 + tonumber(t[2]))
  redis.call('HSET', KEYS[3], 'seq', start, base_field, start)
end
local nonce = tonumber(ARGV[4])
local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
-- Spelled out: Lua would write a number this large as 1.79e+15, losing digits.
redis.call('ZADD', KEYS[1], string.format('%.0f', seq), user)
redis.call('HSET', KEYS[4], user, struct.pack('>IIId', now_s, nonce, 0, seq))
redis.call('EXPIRE', KEYS[4], ARGV[5])
-- The sequence only grows, so the newcomer is last: its place is the set's size.
local position = redis.call('ZCARD', KEYS[1])
return {1, position, now_s, nonce, (now_s + idle) * 1000, seq}
