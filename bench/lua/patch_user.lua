-- PATCH /api/v3/core/users/{id}/ {"name": ...}, rotating over the seeded users.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"
local next_id, counter = nil, 0

function init(args)
   next_id = rotating_ids()
end

function request()
   counter = counter + 1
   local body = string.format('{"name": "Bench Patched %d-%d"}', thread_id or 1, counter)
   return wrk.format("PATCH", "/api/v3/core/users/" .. next_id() .. "/", nil, body)
end
