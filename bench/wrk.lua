-- POST one body (file BENCH_BODY) to the URL; stop after BENCH_MAX_REQUESTS responses (one
-- wrk thread), and print the summary as one JSON line prefixed with BENCH_JSON.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
wrk.headers["Accept"] = os.getenv("BENCH_ACCEPT") or "text/csv"

local max_requests = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0")
local count = 0

function response(status, headers, body)
  count = count + 1
  if max_requests > 0 and count >= max_requests then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
