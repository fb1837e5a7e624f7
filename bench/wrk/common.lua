-- Shared by the wrk scripts of bench/run.sh (wrk 4.x, LuaJIT). Loaded with dofile() by each.
--  * every request comes from request(), cycling through a few prebuilt strings, so all four
--    targets cost wrk the same per request;
--  * WRK_PACE_MS > 0 adds delay() per connection: C connections x P ms ~= C*1000/P req/s
--    (a closed loop with think time; wrk has no rate flag);
--  * done() prints one machine-readable line, "WRKJSON {...}", that run.sh parses.
local M = {}
M.pace_ms = tonumber(os.getenv("WRK_PACE_MS") or "0") or 0
M.threads = {}
M.counter = 0

-- Prebuilt requests for `bodies` (one per element), served round-robin by request(). Built on
-- the first call: wrk adds the Host header to wrk.headers only in each thread's wrk.init().
function M.serve(bodies)
  local reqs, n, i = nil, #bodies, 0
  return function()
    if not reqs then
      reqs = {}
      for k, b in ipairs(bodies) do
        reqs[k] = wrk.format(nil, nil, nil, b)
      end
    end
    i = i % n + 1
    return reqs[i]
  end
end

function M.setup(thread)
  M.counter = M.counter + 1
  thread:set("tid", M.counter - 1)
  table.insert(M.threads, thread)
end

-- Sum of a numeric global over all threads (for counters kept by response()).
function M.sum(name)
  local total = 0
  for _, t in ipairs(M.threads) do
    total = total + (tonumber(t:get(name)) or 0)
  end
  return total
end

function M.done(summary, latency, extra)
  local e = summary.errors
  local p = function(q) return latency:percentile(q) end
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.2f,"stdev":%.2f,"max":%d,"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}%s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    p(50), p(75), p(90), p(99), p(99.9), extra or ""))
end

if M.pace_ms > 0 then
  function delay() return M.pace_ms end
end

return M
