-- wrk: POST joins for distinct user ids, FIRST_USER..LAST_USER split between threads
-- (thread k takes every THREADS-th id), so each request is a new place in line
-- until the range runs out.
local first = tonumber(os.getenv("FIRST_USER") or "1")
local last = tonumber(os.getenv("LAST_USER") or "1000000")
local threads = tonumber(os.getenv("THREADS") or "2")
local count = 0
local index = 0
local next_user

function setup(thread)
  thread:set("thread_index", count)
  count = count + 1
end

function init(args)
  index = thread_index or 0
  next_user = first + index
end

function request()
  local user = next_user
  next_user = next_user + threads
  if next_user > last then
    next_user = first + index
  end
  return wrk.format("POST", "/api/waiting-queue/", { ["user-id"] = tostring(user) })
end
