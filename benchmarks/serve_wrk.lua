-- wrk's script for benchmarks/serve.py: each request asks for the page after the one its thread
-- read last (keyset paging, as the Python clients do), from the first page again at the end.
--   RV_COLLECTION=<id> wrk -t1 -c20 -d10s -s benchmarks/serve_wrk.lua http://127.0.0.1:PORT
local collection = os.getenv("RV_COLLECTION")
local after = nil

request = function()
  local path = "/api/v1/assets?collection=" .. collection .. "&limit=100"
  if after then
    path = path .. "&after=" .. after
  end
  return wrk.format("GET", path)
end

response = function(status, headers, body)
  if status == 200 then
    -- next_after ends the document: look in its last 200 bytes, not all 44 kB (the load
    -- generator shares the server's two cores: scanning whole bodies took wrk ~10% of a core
    -- at 500 requests/s, the tail under 1%)
    after = string.match(string.sub(body, -200), '"next_after":%s?"([%x%-]+)"')
  end
end

done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT %d %d %.3f %.3f %.3f\n",
    summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    latency:percentile(50) / 1000,
    latency:percentile(95) / 1000,
    summary.duration / 1e6
  ))
end
