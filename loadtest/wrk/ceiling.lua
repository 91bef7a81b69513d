-- wrk: the ceiling route, same user cycling as poll.lua.
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
  return wrk.format("GET", "/position", { ["user-id"] = tostring(first + next_user) })
end
