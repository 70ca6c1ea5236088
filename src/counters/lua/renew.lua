-- renew.lua: extends reservations whose response is still streaming, so that they do not lapse
-- like a crashed replica's would (their TTL exists only for those).
-- For reservation i (1-based): KEYS[2i-1] <prefix>budget:<key> (hash), KEYS[2i] <prefix>budget-exp:<key>
-- (zset); ARGV[3i-2..3i]: reservationId, periodEndMs, reservationTtlMs.
-- A reservation no longer held (settled, released, lapsed or reset) is not brought back.
-- Returns { held_1, held_2, … }: 1 when it was held and now expires reservationTtlMs from now.
if redis.replicate_commands then redis.replicate_commands() end

local now = server_now()
local out = {}

for i = 1, #KEYS / 2 do
  local hkey, zkey, a = KEYS[2 * i - 1], KEYS[2 * i], 3 * (i - 1)
  local id = ARGV[a + 1]
  -- Lapsed reservations go first, as in every other script: one past its expiry is not renewed.
  purge_expired(hkey, zkey, now)
  local h = redis.call('HMGET', hkey, 'r:' .. id, 'x')
  if h[1] then
    local expires = now + tonumber(ARGV[a + 3])
    redis.call('ZADD', zkey, expires, id)
    extend_key(hkey, zkey, math.max(tonumber(ARGV[a + 2]), expires) + MARGIN, h[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
