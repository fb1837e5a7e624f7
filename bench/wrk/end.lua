-- POST /api/realtime/end for sessions issued by issue.lua: thread t of WRK_THREADS ends the ids
-- on lines t, t+T, t+2T, ... of WRK_IDS_FILE, each once. If a thread runs out it starts over,
-- and those repeats (200 with "alreadyEnded") are counted so run.sh can subtract them: only
-- first-time ends are durable writes.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local c = dofile(dir .. "common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
setup = c.setup

local ids, n, i = {}, 0, 0
repeats, bad, ended = 0, 0, 0
function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  local line = 0
  local file = assert(os.getenv("WRK_IDS_FILE"), "WRK_IDS_FILE unset")
  for id in io.lines(file) do
    if line % nthreads == tid then
      n = n + 1
      ids[n] = id
    end
    line = line + 1
  end
  assert(n > 0, "no session ids for thread " .. tid)
end
function request()
  i = i % n + 1
  return wrk.format(nil, nil, nil, string.format(
    '{"sessionId":"%s","duration":12,"messageCount":3,"endedBy":"user"}', ids[i]))
end
function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif body:find('"alreadyEnded"', 1, true) then
    repeats = repeats + 1
  else
    ended = ended + 1
  end
end
function done(s, l)
  c.done(s, l, string.format(',"ended":%d,"repeats":%d,"bad":%d',
    c.sum("ended"), c.sum("repeats"), c.sum("bad")))
end
