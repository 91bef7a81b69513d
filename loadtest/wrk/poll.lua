-- wrk: GET PATH (default the queue position) for user ids cycling through
-- FIRST_USER..LAST_USER, sent as the user-id header. Each thread starts at a
-- different offset so connections ask about different users. The benchmark
-- also points it at the ceiling route (PATH_TO_POLL=/position).
local first = tonumber(os.getenv("FIRST_USER") or "1")
local last = tonumber(os.getenv("LAST_USER") or "100000")
local path = os.getenv("PATH_TO_POLL") or "/api/waiting-queue/position"
local span = last - first + 1
local threads = 0
local next_user

function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end

function init(args)
  next_user = offset or 0
end

function request()
  next_user = (next_user + 1) % span
  return wrk.format("GET", path, { ["user-id"] = tostring(first + next_user) })
end
