-- Shared by the wrk scripts of bench/run.sh (wrk 4.x, LuaJIT). Loaded with dofile() by each.
--  * every request comes from request(), cycling through a few prebuilt strings, so all four
--    targets cost wrk the same per request;
--  * WRK_RATE > 0 paces the run at that many requests/s in total (wrk has no rate flag): each
--    thread hands out send times WRK_THREADS/WRK_RATE apart, and delay() holds each connection
--    until the next free one. Open-loop, as long as the connections are not all busy; wrk's
--    delay() has a 1 ms granularity, so a request may leave up to 1 ms early but the schedule
--    itself does not drift;
--  * done() prints one machine-readable line, "WRKJSON {...}", that run.sh parses.
local M = {}
M.rate = tonumber(os.getenv("WRK_RATE") or "0") or 0
M.threads = {}
M.counter = 0

-- Prebuilt requests for `bodies` (one per element), served round-robin by request(). Built on
-- the first call: wrk adds the Host header to wrk.headers only in each thread's wrk.init().
-- `extra` (optional): per-request headers added to wrk.headers, extra[k] for bodies[k].
function M.serve(bodies, extra)
  local reqs, n, i = nil, #bodies, 0
  return function()
    if not reqs then
      reqs = {}
      for k, b in ipairs(bodies) do
        local headers = nil
        if extra then
          headers = {}
          for name, value in pairs(wrk.headers) do headers[name] = value end
          for name, value in pairs(extra[k]) do headers[name] = value end
        end
        reqs[k] = wrk.format(nil, nil, headers, b)
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

if M.rate > 0 then
  local ffi = require("ffi")
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } vg_bench_timespec;
    int clock_gettime(int clock, vg_bench_timespec *ts);
  ]]
  local ts = ffi.new("vg_bench_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local interval = 1000 * (tonumber(os.getenv("WRK_THREADS") or "1") or 1) / M.rate
  local next_ms
  function delay()
    local now = now_ms()
    -- After a stall, catch up at most 100 ms of missed sends rather than all of them at once.
    if not next_ms or next_ms < now - 100 then next_ms = now end
    next_ms = next_ms + interval
    local d = next_ms - now
    return d > 0 and math.floor(d) or 0
  end
end

return M
