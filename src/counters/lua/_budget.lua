-- _budget.lua: shared by the budget scripts; luaScript.ts puts it in front of each of them
-- (one EVALSHA body per script, so a script cannot load another).
-- Reservations live in the hash as r:<id> = amount, summed in `reserved`, and in the zset by
-- expiry time. A reservation that lapsed unsettled leaves l:<id> = 1 behind, so that its
-- settlement, sent again after Redis was away for longer than the TTL, is still charged once
-- (settle.lua) rather than taken for one already settled. The marker goes with the settlement,
-- or with the key at the end of the period.

-- Drops one reservation (settled, released or rolled back), or its lapse marker.
local function drop_reservation(hkey, zkey, id)
  local amount = tonumber(redis.call('HGET', hkey, 'r:' .. id))
  if amount then
    redis.call('HDEL', hkey, 'r:' .. id)
    -- Not for 0: Lua's -0 reaches Redis as "-0", which HINCRBY refuses (the script would stop
    -- here, its later settlements left for the retry).
    if amount ~= 0 then redis.call('HINCRBY', hkey, 'reserved', -amount) end
  else
    redis.call('HDEL', hkey, 'l:' .. id)
  end
  redis.call('ZREM', zkey, id)
end

-- Drops reservations whose expiry has passed (a crashed replica never settled them, or its
-- settlement is waiting for Redis), leaving their lapse markers.
local function purge_expired(hkey, zkey, now)
  local ids = redis.call('ZRANGEBYSCORE', zkey, '-inf', now, 'LIMIT', 0, 512)
  if #ids == 0 then return end
  local freed = 0
  for _, id in ipairs(ids) do
    local amount = tonumber(redis.call('HGET', hkey, 'r:' .. id))
    if amount then
      freed = freed + amount
      redis.call('HDEL', hkey, 'r:' .. id)
      redis.call('HSET', hkey, 'l:' .. id, 1)
    end
  end
  redis.call('ZREM', zkey, unpack(ids))
  if freed > 0 then redis.call('HINCRBY', hkey, 'reserved', -freed) end
end


-- Budget keys outlive their period by 1 h (windowMath.ts BUDGET_KEY_MARGIN_MS).
local MARGIN = 3600000

-- Redis server time in ms (every replica agrees on it). Scripts call replicate_commands first.
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Moves a budget key's expiry (hash and zset) to key_expires when that is later than `x`, the
-- expiry the hash holds (field x; see admit.lua); the zset, while it exists, holds at least x.
local function extend_key(hkey, zkey, key_expires, x)
  if key_expires > (tonumber(x) or 0) then
    redis.call('HSET', hkey, 'x', key_expires)
    redis.call('PEXPIREAT', hkey, key_expires)
    redis.call('PEXPIREAT', zkey, key_expires)
  end
end
