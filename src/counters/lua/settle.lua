-- settle.lua: replaces a reservation by the real usage, atomically.
-- KEYS[1] <prefix>budget:<key> (hash used/reserved/r:<id>), KEYS[2] <prefix>budget:<key>:exp (zset).
-- ARGV: reservationId, actual, periodEndMs, reservationTtlMs.
-- `actual` is counted in full, even above the reservation or after the reservation lapsed.
-- Returns { used, reserved }.
if redis.replicate_commands then redis.replicate_commands() end

local MARGIN = 3600000
local hkey, zkey, id = KEYS[1], KEYS[2], ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

drop_reservation(hkey, zkey, id)
local used = redis.call('HINCRBY', hkey, 'used', tonumber(ARGV[2]))
local key_expires = math.max(tonumber(ARGV[3]), now + tonumber(ARGV[4])) + MARGIN
redis.call('PEXPIREAT', hkey, key_expires)
redis.call('PEXPIREAT', zkey, key_expires)
return { used, tonumber(redis.call('HGET', hkey, 'reserved')) or 0 }
