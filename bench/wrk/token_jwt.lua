-- POST /api/realtime/token with JWT auth (voicegate): the diary app's request as 256 distinct
-- users, each with its own HS256 token (the user is the token's `sub`, so the body has no
-- userId). The tokens come from WRK_JWT_FILE, a Lua file returning a list of 256 strings that
-- run.sh generates before the run (bench/jwt-tokens.js).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local tokens = dofile(assert(os.getenv("WRK_JWT_FILE"), "WRK_JWT_FILE unset"))
local bodies, extra = {}, {}
for i = 1, #tokens do
  bodies[i] = '{"sessionConfig":{"model":"gpt-realtime","voice":"alloy"}}'
  extra[i] = { ["Authorization"] = "Bearer " .. tokens[i] }
end
request = c.serve(bodies, extra)
setup = c.setup
function done(s, l) c.done(s, l) end
