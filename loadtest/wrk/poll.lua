-- wrk: GET the queue position for user ids cycling through FIRST_USER..LAST_USER.
-- Each thread starts at a different offset so connections ask about different users.
local first = tonumber(os.getenv("FIRST_USER") or "1")
local last = tonumber(os.getenv("LAST_USER") or "100000")
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
  return wrk.format("GET", "/api/waiting-queue/position", { ["user-id"] = tostring(first + next_user) })
end
