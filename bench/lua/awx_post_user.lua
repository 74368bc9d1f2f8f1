-- POST /api/v2/users/ (AWX) with a new, unique username and a password on every request
-- (AWX requires one: the argon2id hash is part of what is measured, as AWX's own PBKDF2 is in
-- the baseline).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"
local counter, prefix = 0, nil

function init(args)
   math.randomseed(os.time() + (thread_id or 1) * 7777)
   prefix = string.format("bench-awx-%s-%d-%06d", os.getenv("BENCH_RUN_TAG") or "run",
                          thread_id or 1, math.random(0, 999999))
end

function request()
   counter = counter + 1
   local username = prefix .. "-" .. counter
   local body = string.format(
      '{"username": "%s", "first_name": "Bench", "last_name": "Post %d", "email": "%s@example.com", "password": "bench-pass-%d"}',
      username, counter, username, counter)
   return wrk.format("POST", "/api/v2/users/", nil, body)
end
