-- POST /v1/realtime/client_secrets (emulator directly, nginx): what voicegate sends upstream,
-- with the real key from BENCH_API_KEY.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_API_KEY"), "BENCH_API_KEY unset")
request = c.serve({
  '{"expires_after":{"anchor":"created_at","seconds":1800},' ..
  '"session":{"type":"realtime","model":"gpt-realtime","audio":{"output":{"voice":"alloy"}}}}'
})
setup = c.setup
function done(s, l) c.done(s, l) end
