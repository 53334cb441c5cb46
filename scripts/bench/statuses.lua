-- wrk script for scripts/bench/overload.ts: counts responses by HTTP status in every thread and
-- prints one JSON line at the end (wrk's own summary only says "Non-2xx or 3xx responses").
-- wrk API: setup/init/response/done, thread:get (wrk SCRIPTING, https://github.com/wg/wrk).
local threads = {}

function setup (thread)
  table.insert(threads, thread)
end

function init (args)
  statuses = {}
end

function response (status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done (summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"durationUs":%d,"requests":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,"statuses":{%s},"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\n',
    summary.duration, summary.requests, latency:percentile(50), latency:percentile(99), latency.max,
    table.concat(parts, ","), e.connect, e.read, e.write, e.timeout))
end
