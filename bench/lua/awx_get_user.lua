-- GET /api/v2/users/{id}/ (AWX), rotating over the seeded users.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local next_id

function init(args)
   next_id = rotating_ids()
end

function request()
   return wrk.format("GET", "/api/v2/users/" .. next_id() .. "/")
end
