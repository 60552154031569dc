-- wrk script of bench/api: adds the bearer token (env TOKEN) to every
-- request and prints requests/s and the p50/p95/p99 latencies at the end.
local token = os.getenv("TOKEN")

request = function()
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
end

local non_2xx = 0
response = function(status, headers, body)
  if status ~= 200 then
    non_2xx = non_2xx + 1
  end
end

done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d errors=%d requests_per_s=%.1f p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.requests / secs,
    latency:percentile(50) / 1e3,
    latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3,
    latency.max / 1e3))
end
