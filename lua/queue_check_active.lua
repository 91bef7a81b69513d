-- The booking gate: is this exact token (user, issue time, nonce) active now?
-- Read-only: using an active token does not extend it.
-- KEYS[1]: waiting ZSET
-- KEYS[2]: active ZSET
-- KEYS[3]: the user's meta HASH bucket
-- ARGV[1]: user id
-- ARGV[2]: issued_s from the token
-- ARGV[3]: nonce from the token
-- Returns: {state, value}: {1, expiry_ms} active, {2, position} waiting,
--   {3, 0} expired, {4, 0} stale (the user holds a newer token), {0, 0} never joined
local user = ARGV[1]
local meta = redis.call('HGET', KEYS[3], user)
if not meta then
  return {0, 0}
end
local issued, nonce = struct.unpack('>II', meta)
if issued ~= tonumber(ARGV[2]) or nonce ~= tonumber(ARGV[3]) then
  return {4, 0}
end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = redis.call('ZSCORE', KEYS[2], user)
if expiry then
  if tonumber(expiry) > now_ms then
    return {1, tonumber(expiry)}
  end
  return {3, 0}
end
local rank = redis.call('ZRANK', KEYS[1], user)
if rank then
  return {2, rank + 1}
end
return {3, 0}
