-- usage.lua: current totals of one budget, after dropping reservations past their expiry.
-- KEYS[1] <prefix>budget:<key> (hash), KEYS[2] <prefix>budget:<key>:exp (zset).
-- Returns { used, reserved }.
if redis.replicate_commands then redis.replicate_commands() end

local hkey, zkey = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local ids = redis.call('ZRANGEBYSCORE', zkey, '-inf', now, 'LIMIT', 0, 512)
if #ids > 0 then
  local freed = 0
  for _, id in ipairs(ids) do
    local amount = tonumber(redis.call('HGET', hkey, 'r:' .. id))
    if amount then
      freed = freed + amount
      redis.call('HDEL', hkey, 'r:' .. id)
    end
  end
  redis.call('ZREM', zkey, unpack(ids))
  if freed > 0 then redis.call('HINCRBY', hkey, 'reserved', -freed) end
end
local h = redis.call('HMGET', hkey, 'used', 'reserved')
return { tonumber(h[1]) or 0, tonumber(h[2]) or 0 }
