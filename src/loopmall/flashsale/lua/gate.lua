-- The flash-sale gate in one round trip (EVALSHA). Every key carries the sale's hash tag.
-- KEYS: 1 stock  2 reservations (bitmap by customer id)  3 buyers (hash customer -> request)
--       4 the token's one-time key  5 the sale's stream  6 customer rate key  7 IP rate key
-- ARGV: 1 customer id  2 quantity  3 request id  4 token ttl (s)  5 accepted at (ms)
--       6 attempts per customer per second (0 = off)  7 attempts per IP per second (0 = off)
-- Answers {status[, request id, units left]}; nothing is written unless every check passed,
-- except the rate counters and the token (a refused attempt still spends its token).
local function over(key, limit)
  if limit <= 0 then return false end
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, 1) end
  return n > limit
end

local left = redis.call('GET', KEYS[1])
if not left then return {'not_loaded'} end
left = tonumber(left)
if over(KEYS[6], tonumber(ARGV[6])) or over(KEYS[7], tonumber(ARGV[7])) then
  return {'rate_limited'}
end
local customer = ARGV[1]
if redis.call('GETBIT', KEYS[2], customer) == 0 then return {'not_reserved'} end
local prior = redis.call('HGET', KEYS[3], customer)
if prior then return {'already_bought', prior} end
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[4]) then return {'token_used'} end
local quantity = tonumber(ARGV[2])
if left < quantity then return {'sold_out'} end
left = redis.call('DECRBY', KEYS[1], quantity)
redis.call('HSET', KEYS[3], customer, ARGV[3])
redis.call('XADD', KEYS[5], '*', 'r', ARGV[3], 'c', customer, 'q', ARGV[2], 't', ARGV[5])
return {'accepted', ARGV[3], left}
