-- Issues sessions for the /end run: POST /api/realtime/token and append every returned sessionId
-- to "$WRK_IDS_FILE.<thread>" (one per line). Non-200 answers are counted, not recorded.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for i = 1, 256 do
  bodies[i] = string.format(
    '{"userId":"bench-end-%d","sessionConfig":{"model":"gpt-realtime","voice":"alloy"}}', i)
end
request = c.serve(bodies)
setup = c.setup

local out
issued, bad = 0, 0
function init(args)
  out = assert(io.open(assert(os.getenv("WRK_IDS_FILE"), "WRK_IDS_FILE unset") .. "." .. tid, "w"))
end
function response(status, headers, body)
  local id = status == 200 and body:match('"sessionId"%s*:%s*"([^"]+)"')
  if id then
    out:write(id, "\n")
    issued = issued + 1
  else
    bad = bad + 1
  end
end
function done(s, l)
  c.done(s, l, string.format(',"issued":%d,"bad":%d', c.sum("issued"), c.sum("bad")))
end
