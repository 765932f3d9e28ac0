-- One wrk script for every HTTP scenario of the benchmark (bench/wrk.py runs it).
--
-- Environment:
--   BENCH_MODE     me | view | open_hot | open_spread | send | send_pin | shake
--   BENCH_TOKENS   file: one API token per line (the users, rotated per request)
--   BENCH_PACKETS  file: one packet id per line (view: the first; open_*: all;
--                  shake: the campaign id)
--   BENCH_GROUP    open_hot: how many users race for each packet (default: all tokens)
--   BENCH_ROOM     send: the room id;  BENCH_TAG: makes Idempotency-Keys unique per run
--   BENCH_PIN      send_pin: the senders' payment PIN
--   BENCH_RATE     optional total requests/s held constant (a pacer like wrk2's, without
--                  its latency correction); unset = as fast as the connections go
--   BENCH_THREADS  the -t given to wrk
--
-- Request k of thread t is request number n = k * threads + t of the whole run, so the
-- threads together walk one sequence: for open_hot, n // group picks the packet and
-- n % group the user, so every packet meets `group` different users.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local function read_lines(path)
  local lines = {}
  if path == nil or path == "" then return lines end
  for line in io.lines(path) do
    if line ~= "" then lines[#lines + 1] = line end
  end
  return lines
end

local threads = {}
local thread_counter = 0

function setup(thread)
  thread:set("thread_id", thread_counter)
  thread_counter = thread_counter + 1
  table.insert(threads, thread)
end

function init(args)
  mode = os.getenv("BENCH_MODE") or "me"
  tokens = read_lines(os.getenv("BENCH_TOKENS"))
  packets = read_lines(os.getenv("BENCH_PACKETS"))
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  group = tonumber(os.getenv("BENCH_GROUP") or tostring(#tokens))
  room = os.getenv("BENCH_ROOM") or "0"
  tag = os.getenv("BENCH_TAG") or "run"
  local rate = tonumber(os.getenv("BENCH_RATE") or "0")
  interval_ms = rate > 0 and (1000.0 * nthreads / rate) or 0
  next_at = nil
  k = 0
  statuses = {}
  marks = {}
  send_body = '{"room_id": ' .. room .. ', "kind": "lucky", "count": 2, "total_fen": 200, '
    .. '"greeting": "bench", "pay_with": "balance"}'
  if mode == "send_pin" then
    send_body = send_body:sub(1, -2) .. ', "pin": "' .. (os.getenv("BENCH_PIN") or "") .. '"}'
  end
end

local function auth(token, extra)
  local headers = { ["Authorization"] = "Token " .. token, ["Accept"] = "application/json" }
  if extra then for name, value in pairs(extra) do headers[name] = value end end
  return headers
end

function request()
  local n = k * nthreads + thread_id
  k = k + 1
  if mode == "me" then
    return wrk.format("GET", "/api/me", auth(tokens[(n % #tokens) + 1]))
  elseif mode == "view" then
    return wrk.format("GET", "/api/packets/" .. packets[1], auth(tokens[(n % #tokens) + 1]))
  elseif mode == "open_hot" then
    local packet = packets[(math.floor(n / group) % #packets) + 1]
    local token = tokens[(n % group) + 1]
    return wrk.format("POST", "/api/packets/" .. packet .. "/open", auth(token))
  elseif mode == "open_spread" then
    local packet = packets[(n % #packets) + 1]
    local token = tokens[(math.floor(n / #packets) % #tokens) + 1]
    return wrk.format("POST", "/api/packets/" .. packet .. "/open", auth(token))
  elseif mode == "shake" then
    local path = "/api/shake/campaigns/" .. packets[1] .. "/shake"
    return wrk.format("POST", path, auth(tokens[(n % #tokens) + 1]))
  elseif mode == "send" or mode == "send_pin" then
    local headers = auth(tokens[(n % #tokens) + 1], {
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = tag .. "-" .. n,
    })
    return wrk.format("POST", "/api/packets", headers, send_body)
  end
  error("unknown BENCH_MODE " .. mode)
end

function delay()
  if interval_ms == 0 then return 0 end
  local now = now_ms()
  if next_at == nil then next_at = now end
  next_at = next_at + interval_ms
  local wait = next_at - now
  if wait < 0 then return 0 end
  return wait
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if mode == "shake" and body then
    -- What the answers said: won, or not and why (busy = shed under load).
    local mark = nil
    if string.find(body, '"won":%s*true') then mark = "won"
    else mark = string.match(body, '"reason":%s*"([%w_]+)"') end
    if mark then marks[mark] = (marks[mark] or 0) + 1 end
  end
end

function done(summary, latency, requests)
  local function merge(name)
    local merged = {}
    for _, thread in ipairs(threads) do
      local counts = thread:get(name) or {}
      for key, count in pairs(counts) do merged[key] = (merged[key] or 0) + count end
    end
    local parts = {}
    for key, count in pairs(merged) do parts[#parts + 1] = '"' .. key .. '": ' .. count end
    return table.concat(parts, ", ")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"min": %d, "mean": %.1f, "p50": %d, "p90": %d, "p95": %d, "p99": %d, '
      .. '"max": %d}, "statuses": {%s}, "marks": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(95), latency:percentile(99), latency.max,
    merge("statuses"), merge("marks")))
end
