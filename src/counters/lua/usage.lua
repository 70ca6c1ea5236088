-- usage.lua: current totals of one budget, after dropping reservations past their expiry.
-- KEYS[1] <prefix>budget:<key> (hash), KEYS[2] <prefix>budget:<key>:exp (zset).
-- Returns { used, reserved }.
if redis.replicate_commands then redis.replicate_commands() end

local hkey, zkey = KEYS[1], KEYS[2]
local now = server_now()

purge_expired(hkey, zkey, now)
local h = redis.call('HMGET', hkey, 'used', 'reserved')
return { tonumber(h[1]) or 0, tonumber(h[2]) or 0 }
