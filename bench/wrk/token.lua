-- POST /api/realtime/token (voicegate, Express): the diary app's request, 256 distinct users.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for i = 1, 256 do
  bodies[i] = string.format(
    '{"userId":"bench-user-%d","sessionConfig":{"model":"gpt-realtime","voice":"alloy"}}', i)
end
request = c.serve(bodies)
setup = c.setup
function done(s, l) c.done(s, l) end
