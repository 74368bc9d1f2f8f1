-- PATCH /api/v2/users/{id}/ {"first_name": ...} (AWX), rotating over the seeded users.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"
local next_id, counter = nil, 0

function init(args)
   next_id = rotating_ids()
end

function request()
   counter = counter + 1
   local body = string.format('{"first_name": "Patched %d-%d"}', thread_id or 1, counter)
   return wrk.format("PATCH", "/api/v2/users/" .. next_id() .. "/", nil, body)
end
