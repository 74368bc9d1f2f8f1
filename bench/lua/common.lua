-- Shared by every scenario (loaded with dofile from each script).
--   * sends the bearer token from BENCH_TOKEN (unless BENCH_NO_AUTH=1), and BENCH_COOKIE if set,
--   * counts every response that is not 2xx as an error (keeps a few samples),
--   * prints one machine-readable "BENCH ..." line for bench/run when the run ends.
-- wrk runs one Lua state per thread: setup() runs in the main state, init/request/response
-- in each thread's state; done() reads the threads' counters back.

if os.getenv("BENCH_NO_AUTH") ~= "1" then
   wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN")
end
wrk.headers["Accept"] = "application/json"
-- The console scenarios sign in with a session cookie instead of a token.
if os.getenv("BENCH_COOKIE") then
   wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_id", #threads)
end

errors = 0
samples = ""

function response(status, headers, body)
   if status < 200 or status > 299 then
      errors = errors + 1
      if errors <= 3 then
         local text = string.gsub(string.sub(body or "", 1, 160), "%s+", " ")
         samples = samples .. status .. " " .. text .. " | "
      end
   end
end

function done(summary, latency, requests)
   local non2xx, text = 0, ""
   for _, t in ipairs(threads) do
      non2xx = non2xx + (t:get("errors") or 0)
      text = text .. (t:get("samples") or "")
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d " ..
      "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
      summary.requests, summary.duration, non2xx, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean))
   if text ~= "" then
      io.write("BENCH_SAMPLES ", text, "\n")
   end
end

-- Rotation over a contiguous id range: a stride coprime with most range sizes spreads the
-- requests over the whole table rather than walking neighbouring rows.
function rotating_ids()
   local first = tonumber((assert(os.getenv("BENCH_ID_FIRST"), "BENCH_ID_FIRST")))
   local last = tonumber((assert(os.getenv("BENCH_ID_LAST"), "BENCH_ID_LAST")))
   local n = last - first + 1
   local i = (thread_id or 1) * 1000003
   return function()
      i = i + 1
      return first + (i * 7919) % n
   end
end
