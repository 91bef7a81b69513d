-- challenge_spend: takes solved challenges (src/queue/challenge.rs), each
-- once, on whichever gateway: the first call to name a solution's mark sets
-- it, to last until its challenge expires, and is answered 1; every later
-- one (a replay) is answered 0. Many solutions in one call: a gateway gathers
-- those of one queue that arrive while its previous call is in flight
-- (src/store/coalesce.rs), so a challenged join costs Redis a share of a call,
-- not a call. One mark named twice in a call is taken by the first.
-- KEYS[1..n]: the marks, STRINGs under the queue's hash tag (one slot)
-- ARGV[1..n]: each mark's end, ms since 1970 (PXAT)
-- Returns: one integer per key, in order: 1 taken now, 0 taken before.
local function challenge_spend(KEYS, ARGV)
  local taken = {}
  for i, mark in ipairs(KEYS) do
    taken[i] = redis.call('SET', mark, 1, 'NX', 'PXAT', ARGV[i]) and 1 or 0
  end
  return taken
end
register('challenge_spend', challenge_spend)
