-- release.lua: drops a reservation without charging it (the request never reached the model).
-- KEYS[1] <prefix>budget:<key> (hash), KEYS[2] <prefix>budget:<key>:exp (zset). ARGV[1]: reservationId.
-- Creates nothing when the key is gone. Returns { used, reserved }.
local hkey, zkey, id = KEYS[1], KEYS[2], ARGV[1]
drop_reservation(hkey, zkey, id)
local h = redis.call('HMGET', hkey, 'used', 'reserved')
return { tonumber(h[1]) or 0, tonumber(h[2]) or 0 }
