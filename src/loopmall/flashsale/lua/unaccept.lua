-- A request Redis accepted but the database refused (no reservation, no unit, a duplicate):
-- free the buyer and put the unit back, once per request (the refused set remembers it).
-- KEYS: 1 stock  2 buyers  3 refused (set of request ids)
-- ARGV: request id, customer id, quantity, request id, customer id, quantity, ...
-- Answers the units put back by this call.
local back = 0
for i = 1, #ARGV, 3 do
  if redis.call('SADD', KEYS[3], ARGV[i]) == 1 and redis.call('HGET', KEYS[2], ARGV[i + 1]) == ARGV[i] then
    redis.call('HDEL', KEYS[2], ARGV[i + 1])
    back = back + tonumber(ARGV[i + 2])
  end
end
if back > 0 and redis.call('GET', KEYS[1]) then redis.call('INCRBY', KEYS[1], back) end
return back
