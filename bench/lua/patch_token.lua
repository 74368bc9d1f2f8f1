-- PATCH /api/v3/core/tokens/{identifier}/ {"description": ...}, rotating over the tokens whose
-- identifiers bench/run created and passed in BENCH_TOKEN_IDS (comma-separated).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"
local ids, counter = {}, 0

function init(args)
   for id in string.gmatch(assert(os.getenv("BENCH_TOKEN_IDS"), "BENCH_TOKEN_IDS"), "[^,]+") do
      table.insert(ids, id)
   end
   counter = (thread_id or 1) * 5
end

function request()
   counter = counter + 1
   local id = ids[(counter % #ids) + 1]
   local body = string.format('{"description": "bench %d-%d"}', thread_id or 1, counter)
   return wrk.format("PATCH", "/api/v3/core/tokens/" .. id .. "/", nil, body)
end
