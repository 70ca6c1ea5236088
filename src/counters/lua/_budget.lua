-- _budget.lua: shared by the budget scripts; luaScript.ts puts it in front of each of them
-- (one EVALSHA body per script, so a script cannot load another).
-- Reservations live in the hash as r:<id> = amount, summed in `reserved`, and in the zset by
-- expiry time.

-- Drops one reservation (settled, released or rolled back), if it is still there.
local function drop_reservation(hkey, zkey, id)
  local amount = tonumber(redis.call('HGET', hkey, 'r:' .. id))
  if amount then
    redis.call('HDEL', hkey, 'r:' .. id)
    redis.call('HINCRBY', hkey, 'reserved', -amount)
  end
  redis.call('ZREM', zkey, id)
end

-- Drops reservations whose expiry has passed (a crashed replica never settled them).
local function purge_expired(hkey, zkey, now)
  local ids = redis.call('ZRANGEBYSCORE', zkey, '-inf', now, 'LIMIT', 0, 512)
  if #ids == 0 then return end
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

