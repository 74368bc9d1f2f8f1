-- GET of one fixed path (BENCH_PATH): the health baseline, list pages, filtered list, search.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "GET"
wrk.path = assert(os.getenv("BENCH_PATH"), "BENCH_PATH")
