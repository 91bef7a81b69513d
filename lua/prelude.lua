-- boxoffice's Redis Functions: one library, what every function shares, then
-- (in the files after this one) one function per atomic operation.
--
-- src/store/scripts/library.rs builds the library: the header line
-- `#!lua name=boxoffice_<version>` and `local VERSION = '<version>'`, this
-- file, then each function's file; it loads it with FUNCTION LOAD REPLACE at
-- start-up, and again whenever Redis answers that a function is not found
-- (restarted empty, flushed, a failover to a node that never had it). The
-- version is a hash of the library's text, and every function is registered
-- as `<name>_<version>`: gateways of two builds serving one Redis (a rolling
-- upgrade) each call the functions they were built with, as they did when
-- these were scripts called by their SHA.
--
-- Rules every function keeps:
--   * It opens with a KEYS / ARGV / Returns header, and validates before it
--     writes anything.
--   * It touches only the keys the caller names in KEYS: keys are named in
--     Rust only (src/store/keys.rs), never built here (a unit test in
--     library.rs fails on a key formatted in this library). A Redis Cluster
--     routes by those keys, and all of one call's share a hash tag.
--   * Time is Redis's clock, read through now_ms(), never the caller's.
--   * A user's record and a seat's hold are read and written only through the
--     codecs below.

-- The most entries a queue's events STREAM keeps while the drain cannot move
-- them into Postgres (Postgres down): the oldest go first (about that many:
-- MAXLEN ~ trims whole macro nodes, which is cheap).
local EVENTS_KEPT = 100000

-- Appends an event to a queue's events STREAM, for the drain
-- (src/events/drain.rs) to move into Postgres: `type`, then the field/value
-- pairs of its data. The entry's id gives its time.
local function emit_event(stream, kind, ...)
  redis.call('XADD', stream, 'MAXLEN', '~', EVENTS_KEPT, '*', 'type', kind, ...)
end

-- Redis's clock: now in ms, and the same instant in whole seconds and in µs.
local function now_ms()
  local t = redis.call('TIME')
  local s = tonumber(t[1])
  local us = s * 1000000 + tonumber(t[2])
  return math.floor(us / 1000), s, us
end

-- The user record: field <user id> of the user's meta HASH bucket, 20 bytes,
-- struct '>IIId': issued_s (the token's issue time), nonce (the token's),
-- last seen (seconds after issued_s), sequence (the place's; 0 in the
-- pre-queue). Binary, because it is smaller than text and struct.unpack is
-- cheaper than a pattern. A record written before sequences were kept has the
-- first 12 bytes only, and sequence 0. Rust reads the same layout
-- (src/store/scripts/record.rs); a unit test holds the two together.
local RECORD = '>IIId'
local RECORD_HEAD = '>III'

local function record_pack(issued, nonce, seen, seq)
  return struct.pack(RECORD, issued, nonce, seen, seq)
end

-- issued_s, nonce, last seen (s after issued_s).
local function record_head(record)
  local issued, nonce, seen = struct.unpack(RECORD_HEAD, record)
  return issued, nonce, seen
end

local function record_seq(record)
  if #record < 20 then
    return 0
  end
  return (struct.unpack('>d', record, 13))
end

-- The same record with last seen set to `seen`; the rest is kept as it is.
local function record_seen(record, issued, nonce, seen)
  return struct.pack(RECORD_HEAD, issued, nonce, seen) .. string.sub(record, 13)
end

-- The user's record in the meta HASH `bucket` when it is still the one of the
-- token issued at `issued_arg` with `nonce_arg` (both as ARGV carries them):
-- the record, its issued_s and nonce; nil for no record or a later join's.
local function record_of_token(bucket, user, issued_arg, nonce_arg)
  local record = redis.call('HGET', bucket, user)
  if not record then
    return nil
  end
  local issued, nonce = record_head(record)
  if issued ~= tonumber(issued_arg) or nonce ~= tonumber(nonce_arg) then
    return nil
  end
  return record, issued, nonce
end

-- Marks the token of `record` ended now: its last seen becomes now, which
-- polls report as the expiry; a join after it starts afresh.
local function record_end_now(bucket, user, record, issued, nonce)
  local _, now_s = now_ms()
  redis.call('HSET', bucket, user, record_seen(record, issued, nonce, math.max(0, now_s - issued)))
end

-- A seat's hold: field <seat> of the schedule's holds HASH, "<user id>:<expiry ms>".
-- Rust reads it too, for the operators' seat map (src/store/scripts/record.rs).
local function hold_value(user, expiry)
  return user .. ':' .. expiry
end

-- The holder (a string, as user ids come in ARGV) and the expiry in ms, of a
-- hold value or of HGET's answer for a seat: no hold (false), or a value of
-- another shape, reads as a lapsed hold of nobody.
local function hold_parse(value)
  if not value then
    return nil, 0
  end
  local holder, expiry = string.match(value, '^(%d+):(%d+)$')
  if not holder then
    return nil, 0
  end
  return holder, tonumber(expiry)
end

-- Registers `callback` under this build's name for it (see above); `flags`
-- {'no-writes'} for a function that only reads.
local function register(name, callback, flags)
  redis.register_function{function_name = name .. '_' .. VERSION, callback = callback, flags = flags}
end
