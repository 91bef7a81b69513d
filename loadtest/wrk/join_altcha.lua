-- wrk: POST joins for distinct user ids, each carrying a distinct solved
-- challenge in X-Altcha: line n of PAYLOADS (one base64 payload a line) goes
-- with user FIRST_USER + n. Thread k takes every THREADS-th pair, so each
-- request is a new place and a solution used once, until the lines run out
-- (then they wrap, and the server answers 403 CHALLENGE_FAILED "spent").
local first = tonumber(os.getenv("FIRST_USER") or "1")
local threads = tonumber(os.getenv("THREADS") or "2")
local file = os.getenv("PAYLOADS")
local count = 0
local index = 0
local payloads = {}
local n

function setup(thread)
  thread:set("thread_index", count)
  count = count + 1
end

function init(args)
  index = thread_index or 0
  local line_no = 0
  for line in io.lines(file) do
    if line_no % threads == index then
      payloads[#payloads + 1] = line
    end
    line_no = line_no + 1
  end
  n = 0
end

function request()
  local k = n % #payloads
  n = n + 1
  local user = first + index + k * threads
  return wrk.format("POST", "/api/waiting-queue/", { ["user-id"] = tostring(user), ["X-Altcha"] = payloads[k + 1] })
end
