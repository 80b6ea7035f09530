-- Put lapsed units back on sale, once per request (the returned set remembers it).
-- KEYS: 1 stock  2 returned (set of request ids)
-- ARGV: request id, quantity, request id, quantity, ...
-- Answers the number of units put back by this call.
if not redis.call('GET', KEYS[1]) then return -1 end
local back = 0
for i = 1, #ARGV, 2 do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    back = back + tonumber(ARGV[i + 1])
  end
end
if back > 0 then redis.call('INCRBY', KEYS[1], back) end
return back
