-- wrk script: the flash sale's attempts, one body per line of this thread's file.
--   wrk -t T -c C -d LIMIT --timeout 60s -s wrk_gate.lua URL -- PATH FILE-PREFIX
-- Thread k reads FILE-PREFIX.k (one sale token per line, in the real crowd followed by a tab
-- and the shopper's address for X-Forwarded-For; in the order they are sent: a
-- double-click is the same token on two lines in a row, a retry a fresh token further on).
-- Each answer is sorted by its problem code (or "accepted"); the accepted request ids are
-- kept so the caller can prove every accepted attempt has its order. A thread that has all
-- its answers writes FILE-PREFIX.done.k and stops; the caller then ends wrk (SIGINT: wrk's
-- own clock runs for -d whatever its threads do) and done() prints one JSON object.
-- Times come from CLOCK_MONOTONIC through LuaJIT's ffi (wrk's Lua has no clock of its own).

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } lm_timespec;
int clock_gettime(int clk_id, lm_timespec *tp);
]])
local ts = ffi.new("lm_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: one clock for every thread
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local tokens = {}
local ips = {}
local path, prefix
local headers = { ["Content-Type"] = "application/json" }

-- Globals, so that done() can read them from each thread (thread:get).
n, sent, answered = 0, 0, 0
answers = {}
accepted = {}
started_at, finished_at = 0, 0
last_accept_at, last_accept_answers = 0, 0 -- when, and answers received by then
first_sold_out_at = 0

function init(args)
  path, prefix = args[1], args[2]
  -- A line is a token, or in the real crowd a token, a tab and the shopper's address.
  for line in io.lines(prefix .. "." .. id) do
    n = n + 1
    local token, ip = line:match("^([^\t]*)\t(.*)$")
    tokens[n] = token or line
    ips[n] = ip
  end
  -- wrk asks thread 0's request() once before the run, to see the request's shape: that
  -- call must not use up a body.
  verifying = (id == 0)
end

local function body(i)
  headers["X-Forwarded-For"] = ips[i]
  return wrk.format("POST", path, headers, '{"token":"' .. (tokens[i] or "") .. '"}')
end

function request()
  if verifying then
    verifying = false
    return body(1)
  end
  if started_at == 0 then
    started_at = now()
  end
  sent = sent + 1
  if sent > n then
    -- Every body is out: this connection sends nothing more and waits for the others.
    return ""
  end
  return body(sent)
end

function response(status, hdrs, text)
  answered = answered + 1
  local code = text:match('"code":"([%w_]+)"')
  if not code then
    code = text:match('"status":"([%w_]+)"') or tostring(status)
  end
  answers[code] = (answers[code] or 0) + 1
  if code == "accepted" then
    accepted[#accepted + 1] = text:match('"request":"([^"]+)"')
    last_accept_at, last_accept_answers = now(), answered
  elseif code == "flash_sold_out" and first_sold_out_at == 0 then
    first_sold_out_at = now()
  end
  if answered == n then
    finished_at = now()
    local f = io.open(prefix .. ".done." .. id, "w")
    f:write(answered, "\n")
    f:close()
    wrk.thread:stop()
  end
end

local function quote(s)
  return '"' .. tostring(s):gsub('[%c"\\]', "") .. '"'
end

function done(summary, latency, requests)
  local total, ids = {}, {}
  local bodies, got, until_last = 0, 0, 0
  local t0, t_end, t_last, t_sold_out = math.huge, 0, 0, math.huge
  for _, t in ipairs(threads) do
    bodies = bodies + t:get("n")
    got = got + t:get("answered")
    until_last = until_last + t:get("last_accept_answers")
    local s = t:get("started_at")
    if s > 0 and s < t0 then t0 = s end
    local f = t:get("finished_at")
    if f == 0 then f = now() end -- a thread cut off by the limit: up to now
    if f > t_end then t_end = f end
    if t:get("last_accept_at") > t_last then t_last = t:get("last_accept_at") end
    local so = t:get("first_sold_out_at")
    if so > 0 and so < t_sold_out then t_sold_out = so end
    for code, count in pairs(t:get("answers")) do
      total[code] = (total[code] or 0) + count
    end
    for _, r in ipairs(t:get("accepted")) do
      ids[#ids + 1] = quote(r)
    end
  end
  if t0 == math.huge then t0 = t_end end
  local function since(t)
    if t == 0 or t == math.huge then return 0 end
    return t - t0
  end
  local parts = {}
  for code, count in pairs(total) do
    parts[#parts + 1] = quote(code) .. ":" .. count
  end
  local e = summary.errors
  io.write("{")
  io.write('"bodies":', bodies, ',"answered":', got, ',"requests":', summary.requests)
  io.write(',"elapsed_s":', string.format("%.6f", t_end - t0))
  io.write(',"last_accept_s":', string.format("%.6f", since(t_last)))
  io.write(',"first_sold_out_s":', string.format("%.6f", since(t_sold_out)))
  io.write(',"answered_until_last_accept":', until_last)
  io.write(',"p50_us":', latency:percentile(50), ',"p99_us":', latency:percentile(99))
  io.write(',"max_us":', latency.max)
  io.write(',"errors":{"connect":', e.connect, ',"read":', e.read, ',"write":', e.write)
  io.write(',"status":', e.status, ',"timeout":', e.timeout, "}")
  io.write(',"answers":{', table.concat(parts, ","), "}")
  io.write(',"accepted_requests":[', table.concat(ids, ","), "]")
  io.write("}\n")
end
