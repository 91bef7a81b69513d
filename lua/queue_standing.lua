-- queue_standing: users' standing in one queue. Each entry joins it (or gets
-- back the place already held) or polls the place. One function for both,
-- because both first ask the same thing (is this user waiting and alive,
-- active, or gone?); a join then takes a new place at the back where a poll
-- would report the user as gone.
--
-- Many entries in one call: a gateway gathers the joins and polls of a queue
-- that arrive while its previous call is in flight and sends them together
-- (src/store/coalesce.rs). The entries are served one after another, exactly
-- as if each were a call of its own at the same instant, so a repeated join in
-- one batch gets the same place and token, and positions are exact at the
-- moment of the call. What is shared is what does not depend on the entry:
-- one reading of Redis's clock, the queue's settings, the sequence counter
-- (read once, written once at the end), the length of the line, one EXPIRE
-- per touched bucket.
-- The hot path of the whole service, so it does as little as it can: the
-- waiting set is checked first (most callers wait), and last-seen is rewritten
-- only when it is older than a tenth of the idle timeout.
--
-- Places survive a Redis that lost its data, wholly (a restart without
-- persistence) or in part (a failover to a replica that had not yet received
-- the last writes): the sequence number of a place is signed into the user's
-- token, and a caller presenting a token Redis has no trace of is put back at
-- that sequence, or back into the active set until the token's signed expiry.
-- An admission is put back the same way when the token of the place Redis
-- holds says the user was admitted and Redis has them waiting.
-- "No trace" is either no record at all while the token is younger than the
-- record's TTL (records are never deleted; within that time only a loss removes
-- one), or a record of an older place than the token's (sequences only grow, so
-- the token's newer place was lost). A new sequence is Redis's clock in
-- microseconds, or one past the last one issued when joins come faster: so
-- every sequence issued after a loss is above every sequence issued before it
-- (across a failover, as far as the nodes' clocks agree), and restored places
-- stay ahead of everyone who joined after the loss, in their original order.
--
-- KEYS[1]: waiting ZSET (user -> join sequence)
-- KEYS[2]: active ZSET (user -> expiry ms)
-- KEYS[3]: stats HASH (seq = last sequence issued, joined = places taken,
--   abandoned, expired)
-- KEYS[4]: pre-queue ZSET (user -> lottery ticket), placed at the opening by queue_open
-- KEYS[5..]: the meta HASH bucket of each entry's user (the user record, see
--   record_pack), one per entry in the order the entries are sent; then the
--   challenge marks of the marked joins, each named by its entry
--   (src/queue/challenge: a solved challenge is taken with the join it let in)
-- ARGV[1]: idle timeout, seconds
-- ARGV[2]: meta bucket TTL, seconds (also how long a token's place can be restored)
-- ARGV[3]: 1 when the queue is closed (it takes no new places); 2 for joins
--   with a presale invitation, which take a place at once, ahead of a
--   pre-queue still waiting for the opening (a user of the pre-queue leaves
--   it for that place); else 0
-- ARGV[4]: the opening, ms (0: none); before it, joins enter the pre-queue
--   (the settings a join follows come from the gateway, which holds each
--   queue's settings as Postgres has them, src/queue/settings: Redis's copy
--   of them is for admission, and a join never waits on reading it)
-- ARGV[5]: P, the number of plain polls that follow
-- ARGV[6..5+P]: plain polls (no token presented), each: user
-- then the other entries, each opening with its kind:
--   'j' user nonce                           join; nonce of a new token
--   'P' user issued nonce seq until          poll presenting a verified token
--   'J' user nonce issued tnonce seq until   join presenting one
--   (the token's issued_s, nonce, sequence and active-until ms, 0 while waiting)
--   'k' and 'K': 'j' and 'J' followed by a challenge mark, `mark_key mark_until`
--   (the mark's KEYS index, and its end in ms since 1970): a mark already set
--   is a solution used before, and the join is answered state 7 and not made;
--   otherwise the mark is set once the join is answered (not when the opening
--   is due: the gateway asks again, with the same mark).
-- Polls go first: the entries of one run arrived together, so any order is
-- one in which they could have come, and the common case then runs without
-- reading a kind. Joins keep their order among themselves.
-- Returns: two values per entry, in the order sent:
--   waiting: position (>= 1), the user's 20-byte record (the place's expiry is
--     (issued_s + last seen + idle timeout) s)
--   otherwise: -state, struct '>IIdd' of issued_s, nonce, expiry_ms, sequence;
--     state 0 never joined (poll only; also when the record has lapsed),
--     2 active, 3 expired, 4 closed (a join that would have taken a new place),
--     5 in the pre-queue (expiry_ms: the opening), 6 the opening is due: run
--     queue_open, then ask again, 7 the join's challenge was used before.
local function queue_standing(KEYS, ARGV)
  local now, now_s, now_us = now_ms()
  local idle = tonumber(ARGV[1])
  local refresh_s = math.ceil(idle / 10)
  local meta_ttl = ARGV[2]
  local restorable_s = tonumber(meta_ttl)

  local out, n = {}, 0
  local function waiting(position, record)
    out[n + 1], out[n + 2] = position, record
    n = n + 2
  end
  local function put(state, issued, nonce, expiry, seq)
    out[n + 1], out[n + 2] = -state, struct.pack('>IIdd', issued, nonce, expiry, seq)
    n = n + 2
  end

  -- One EXPIRE per bucket written in this run.
  local touched = {}
  local function touch(bucket)
    if not touched[bucket] then
      touched[bucket] = true
      redis.call('EXPIRE', bucket, meta_ttl)
    end
  end
  local function write_meta(bucket, user, record)
    redis.call('HSET', bucket, user, record)
    touch(bucket)
  end

  -- The last sequence issued, read once and written back once at the end,
  -- with the count of places taken.
  local seq_last, taken = nil, 0
  local function next_seq()
    if not seq_last then
      seq_last = tonumber(redis.call('HGET', KEYS[3], 'seq') or 0)
    end
    -- A comparison, not math.max: a global's lookup and a C call per join show
    -- in a rush's Redis time.
    seq_last = seq_last + 1
    if seq_last < now_us then
      seq_last = now_us
    end
    taken = taken + 1
    return seq_last
  end

  -- The line's length, read once and kept up to date by this run's changes.
  local length = nil
  local function counted(delta)
    if length then
      length = length + delta
    end
  end

  -- The settings a join follows: a closed queue, and the opening of a pre-queue.
  local closed, opens = ARGV[3] == '1', tonumber(ARGV[4])
  local invited = ARGV[3] == '2'

  -- Whether a pre-queue waits to be placed (the opening is due), read once.
  local prequeue_waits = nil
  local function prequeue_pending()
    if prequeue_waits == nil then
      prequeue_waits = redis.call('EXISTS', KEYS[4]) == 1
    end
    return prequeue_waits
  end

  -- The place at the back for sequence `seq`, answered.
  local function take_place(user, seq, record)
    -- Spelled out: Lua would write a number this large as 1.79e+15, losing digits.
    local added = redis.call('ZADD', KEYS[1], string.format('%d', seq), user)
    -- The sequence only grows, so the newcomer is last: its place is the line's length.
    if length then
      length = length + added
    else
      length = redis.call('ZCARD', KEYS[1])
    end
    return waiting(length, record)
  end

  -- One entry, joined or polled: answers it and returns nothing.
  local function stand(join, user, bucket, nonce, t_issued, t_nonce, t_seq, t_until)
    local meta = redis.call('HGET', bucket, user)
    local seq, lost
    if meta then
      seq = record_seq(meta)
      -- A token of a newer place than the record's: Redis lost that place.
      lost = t_seq > seq
    else
      lost = t_seq > 0 and now_s < t_issued + restorable_s
    end
    if lost then
      -- Put the place back.
      local restored = record_pack(t_issued, t_nonce, math.max(0, now_s - t_issued), t_seq)
      if t_until > now then
        counted(-redis.call('ZREM', KEYS[1], user))
        redis.call('ZADD', KEYS[2], t_until, user)
        write_meta(bucket, user, restored)
        return put(2, t_issued, t_nonce, t_until, t_seq)
      end
      if t_until == 0 then
        redis.call('ZREM', KEYS[2], user)
        counted(redis.call('ZADD', KEYS[1], string.format('%d', t_seq), user))
        write_meta(bucket, user, restored)
        return waiting(redis.call('ZRANK', KEYS[1], user) + 1, restored)
      end
      -- An admission whose time has run out is not given back.
    end
    if not meta then
      if not join then
        return put(0, 0, 0, 0, 0)
      end
    else
      local issued, m_nonce, seen = record_head(meta)
      seen = issued + seen
      local rank = redis.call('ZRANK', KEYS[1], user)
      if rank and t_until > now and t_issued == issued and t_nonce == m_nonce then
        -- Admitted, says this place's token, and yet waiting: Redis lost the
        -- admission (a failover's last writes). It stands until its signed end.
        counted(-redis.call('ZREM', KEYS[1], user))
        redis.call('ZADD', KEYS[2], t_until, user)
        return put(2, issued, m_nonce, t_until, seq)
      end
      if rank then
        if seen + idle >= now_s then
          if now_s - seen >= refresh_s then
            meta = record_seen(meta, issued, m_nonce, now_s - issued)
            write_meta(bucket, user, meta)
          end
          return waiting(rank + 1, meta)
        end
        counted(-redis.call('ZREM', KEYS[1], user))
        redis.call('HINCRBY', KEYS[3], 'abandoned', 1)
        if not join then
          return put(3, issued, m_nonce, (seen + idle) * 1000, seq)
        end
      else
        if invited and join and redis.call('ZREM', KEYS[4], user) == 1 then
          -- Invited after joining the pre-queue: a place now instead (below).
        elseif redis.call('ZSCORE', KEYS[4], user) then
          -- In the pre-queue: no place until the opening, then a place drawn by lot.
          if opens > now then
            return put(5, issued, m_nonce, opens, 0)
          end
          return put(6, 0, 0, 0, 0)
        end
        local expiry = redis.call('ZSCORE', KEYS[2], user)
        if expiry then
          expiry = tonumber(expiry)
          if expiry > now then
            return put(2, issued, m_nonce, expiry, seq)
          end
          redis.call('ZREM', KEYS[2], user)
          redis.call('HINCRBY', KEYS[3], 'expired', 1)
          if not join then
            return put(3, issued, m_nonce, expiry, seq)
          end
        elseif not join then
          -- Admitted and gone (paid, timed out, or skipped as abandoned): last activity time.
          return put(3, issued, m_nonce, seen * 1000, seq)
        end
      end
    end

    -- A new place. A closed queue takes no one new; people in line keep theirs.
    if closed then
      return put(4, 0, 0, 0, 0)
    end
    -- Before the opening, a join enters the pre-queue with a lottery ticket (the
    -- new token's nonce, drawn by the gateway); after it, the pre-queue must have
    -- been placed before anyone goes behind it.
    local ticket = tonumber(nonce)
    if opens > now then
      redis.call('ZADD', KEYS[4], ticket, user)
      write_meta(bucket, user, record_pack(now_s, ticket, 0, 0))
      return put(5, now_s, ticket, opens, 0)
    end
    if not invited and prequeue_pending() then
      return put(6, 0, 0, 0, 0)
    end
    local seq = next_seq()
    local record = record_pack(now_s, ticket, 0, seq)
    write_meta(bucket, user, record)
    return take_place(user, seq, record)
  end

  -- A join of a user with no record at all, the common case in a rush, in one
  -- write: HSETNX both finds that the user has no record and writes the new
  -- one (a user with a record takes the general path, and the sequence number
  -- drawn for them goes back). False when the join needs the general path.
  local function join_new(user, bucket, nonce)
    if closed or opens > now or (not invited and prequeue_pending()) then
      return false
    end
    local seq = next_seq()
    -- The record's layout unpacked by hand (RECORD, as record_pack does):
    -- the hot path of a rush, where a Lua call per join shows.
    local record = struct.pack(RECORD, now_s, tonumber(nonce), 0, seq)
    if redis.call('HSETNX', bucket, user, record) == 0 then
      seq_last, taken = seq - 1, taken - 1
      return false
    end
    touch(bucket)
    take_place(user, seq, record)
    return true
  end

  -- Plain polls: most of them find a live place at once; anything else takes
  -- the general path, which starts again from the user's record.
  local i, k = 6, 5
  local polls_end = 6 + tonumber(ARGV[5])
  while i < polls_end do
    local user, bucket = ARGV[i], KEYS[k]
    i, k = i + 1, k + 1
    local meta = redis.call('HGET', bucket, user)
    local answered = false
    if meta then
      -- RECORD_HEAD read in place, not through record_head: the hottest
      -- loop of the service, where a Lua call per poll costs Redis ~8 %.
      local issued, m_nonce, seen = struct.unpack(RECORD_HEAD, meta)
      seen = issued + seen
      if seen + idle >= now_s then
        local rank = redis.call('ZRANK', KEYS[1], user)
        if rank then
          if now_s - seen >= refresh_s then
            meta = record_seen(meta, issued, m_nonce, now_s - issued)
            write_meta(bucket, user, meta)
          end
          waiting(rank + 1, meta)
          answered = true
        end
      end
    end
    if not answered then
      stand(false, user, bucket, 0, 0, 0, 0, 0)
    end
  end

  -- A marked join: refused when its mark is set, else made, then marked.
  local function marked(entry, mark_key, mark_until)
    local mark = KEYS[tonumber(mark_key)]
    if redis.call('EXISTS', mark) == 1 then
      return put(7, 0, 0, 0, 0)
    end
    entry()
    if out[n - 1] ~= -6 then
      redis.call('SET', mark, 1, 'PXAT', mark_until)
    end
  end

  local last = #ARGV
  while i <= last do
    local kind = ARGV[i]
    local bucket = KEYS[k]
    k = k + 1
    if kind == 'j' then
      if not join_new(ARGV[i + 1], bucket, ARGV[i + 2]) then
        stand(true, ARGV[i + 1], bucket, ARGV[i + 2], 0, 0, 0, 0)
      end
      i = i + 3
    elseif kind == 'P' then
      stand(false, ARGV[i + 1], bucket, 0,
        tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]))
      i = i + 6
    elseif kind == 'J' then
      stand(true, ARGV[i + 1], bucket, ARGV[i + 2],
        tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]))
      i = i + 7
    elseif kind == 'k' then
      local user, nonce = ARGV[i + 1], ARGV[i + 2]
      marked(function()
        if not join_new(user, bucket, nonce) then
          stand(true, user, bucket, nonce, 0, 0, 0, 0)
        end
      end, ARGV[i + 3], ARGV[i + 4])
      i = i + 5
    elseif kind == 'K' then
      local at = i
      marked(function()
        stand(true, ARGV[at + 1], bucket, ARGV[at + 2],
          tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4]), tonumber(ARGV[at + 5]), tonumber(ARGV[at + 6]))
      end, ARGV[i + 7], ARGV[i + 8])
      i = i + 9
    else
      return redis.error_reply('queue_standing: unknown entry kind ' .. tostring(kind))
    end
  end

  if taken > 0 then
    redis.call('HSET', KEYS[3], 'seq', string.format('%d', seq_last))
    redis.call('HINCRBY', KEYS[3], 'joined', taken)
  end
  return out
end
register('queue_standing', queue_standing)
