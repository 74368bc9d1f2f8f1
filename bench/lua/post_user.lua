-- POST /api/v3/core/users/ with a new, unique username on every request
-- (run tag + thread id + random + counter).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"
local counter, prefix = 0, nil

function init(args)
   math.randomseed(os.time() + (thread_id or 1) * 7777)
   prefix = string.format("bench-post-%s-%d-%06d", os.getenv("BENCH_RUN_TAG") or "run",
                          thread_id or 1, math.random(0, 999999))
end

function request()
   counter = counter + 1
   local username = prefix .. "-" .. counter
   local body = string.format(
      '{"username": "%s", "name": "Bench Post %d", "email": "%s@example.com"}',
      username, counter, username)
   return wrk.format("POST", "/api/v3/core/users/", nil, body)
end
