-- wrk script: a crowd opening a rotating list of requests; done() prints one JSON object.
--   wrk -t T -c C -d S --timeout 10s -s crowd.lua URL -- FILE
-- FILE holds one request a line, tab-separated: METHOD, PATH, HEADERS ("Name: value" pairs
-- joined by "|", or "-"), BODY (or "-"). Every thread formats them all once, before the
-- clock, and sends them in turn from its own offset (thread k starts at line k), so the
-- Lua cost per request is a table lookup. Answers are counted by status code.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local requests = {}
local n, i = 0, 0
statuses = {} -- global, so done() can read each thread's (thread:get)

local function split(s, sep)
  local out = {}
  for part in (s .. sep):gmatch("(.-)" .. sep) do
    out[#out + 1] = part
  end
  return out
end

function init(args)
  for line in io.lines(args[1]) do
    local f = split(line, "\t")
    local headers = {}
    if f[3] and f[3] ~= "-" then
      for _, pair in ipairs(split(f[3], "|")) do
        local name, value = pair:match("^([^:]+):%s*(.*)$")
        headers[name] = value
      end
    end
    local body = nil
    if f[4] and f[4] ~= "-" then
      body = f[4]
    end
    n = n + 1
    requests[n] = wrk.format(f[1], f[2], headers, body)
  end
  i = id % n
end

function request()
  i = i % n + 1
  return requests[i]
end

function response(status, hdrs, text)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, reqs)
  local total = {}
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses")) do
      total[code] = (total[code] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(total) do
    parts[#parts + 1] = '"' .. code .. '":' .. count
  end
  local e = summary.errors
  io.write("{")
  io.write('"requests":', summary.requests, ',"duration_us":', summary.duration)
  io.write(',"p50_us":', latency:percentile(50), ',"p90_us":', latency:percentile(90))
  io.write(',"p99_us":', latency:percentile(99), ',"max_us":', latency.max)
  io.write(',"errors":{"connect":', e.connect, ',"read":', e.read, ',"write":', e.write)
  io.write(',"status":', e.status, ',"timeout":', e.timeout, "}")
  io.write(',"statuses":{', table.concat(parts, ","), "}")
  io.write("}\n")
end
