-- wrk script: the hello-JSON baseline; done() prints one JSON object.
function done(summary, latency, requests)
  local e = summary.errors
  io.write("{")
  io.write('"requests":', summary.requests, ',"duration_us":', summary.duration)
  io.write(',"p50_us":', latency:percentile(50), ',"p99_us":', latency:percentile(99))
  io.write(',"errors":{"connect":', e.connect, ',"read":', e.read, ',"write":', e.write)
  io.write(',"status":', e.status, ',"timeout":', e.timeout, "}")
  io.write("}\n")
end
