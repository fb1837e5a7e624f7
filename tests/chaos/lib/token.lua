-- wrk script of tests/chaos/run.sh: POST /api/realtime/token with a distinct userId per request
-- (thread id + counter), paced to WRK_RATE requests/s in total when set (bench/wrk/common.lua's
-- delay(): open-loop while a connection is free, closed-loop once all are busy), counting the
-- answers by status. done() prints "WRKJSON {...}" with wrk's errors and latency and the counts
-- ("status": 200, 429, 503 and "other", the sum of the rest; "other_by": each of the rest).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "../../../bench/wrk/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
local prefix = os.getenv("WRK_USER_PREFIX") or "chaos"
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format(
    '{"userId":"%s-%d-%d","sessionConfig":{"model":"gpt-realtime","voice":"alloy"}}', prefix, tid or 0, n))
end
s200, s429, s503, sother = 0, 0, 0, 0
others = {} -- status -> count, for the statuses other than 200, 429 and 503
function response(status, headers, body)
  if status == 200 then s200 = s200 + 1
  elseif status == 429 then s429 = s429 + 1
  elseif status == 503 then s503 = s503 + 1
  else
    sother = sother + 1
    others[status] = (others[status] or 0) + 1
  end
end
setup = c.setup
function done(s, l)
  local by = {}
  for _, t in ipairs(c.threads) do
    for status, count in pairs(t:get("others") or {}) do
      by[status] = (by[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(by) do parts[#parts + 1] = string.format('"%d":%d', status, count) end
  c.done(s, l, string.format(',"status":{"200":%d,"429":%d,"503":%d,"other":%d},"other_by":{%s}',
    c.sum("s200"), c.sum("s429"), c.sum("s503"), c.sum("sother"), table.concat(parts, ",")))
end
