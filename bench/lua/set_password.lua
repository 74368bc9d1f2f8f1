-- POST /api/v3/core/users/{id}/set_password/ {"password": ...}, rotating over the seeded users:
-- the authentik dialect's request that hashes a password (one argon2id hash and one write), the
-- twin of AWX's POST /api/v2/users/, which must carry a password (AWX refuses a user without one).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"
local next_id, counter = nil, 0

function init(args)
   next_id = rotating_ids()
end

function request()
   counter = counter + 1
   local body = string.format('{"password": "bench-pass-%d-%d"}', thread_id or 1, counter)
   return wrk.format("POST", "/api/v3/core/users/" .. next_id() .. "/set_password/", nil, body)
end
