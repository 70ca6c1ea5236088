-- settle.lua: replaces reservations by the real usage, atomically; several settlements (of
-- requests that ended in the same event-loop turn) in one call.
-- For settlement i (1-based): KEYS[2i-1] <prefix>budget:<key> (hash used/reserved/r:<id>),
-- KEYS[2i] <prefix>budget-exp:<key> (zset); ARGV[4i-3..4i]: reservationId, actual,
-- periodEndMs, reservationTtlMs.
-- `actual` is counted in full, even above the reservation or after the reservation lapsed.
-- Returns { used_1, reserved_1, used_2, reserved_2, … } (each as it stands after its settlement).
if redis.replicate_commands then redis.replicate_commands() end

local MARGIN = 3600000
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}

for i = 1, #KEYS / 2 do
  local hkey, zkey, a = KEYS[2 * i - 1], KEYS[2 * i], 4 * (i - 1)
  drop_reservation(hkey, zkey, ARGV[a + 1])
  local used = redis.call('HINCRBY', hkey, 'used', tonumber(ARGV[a + 2]))
  local key_expires = math.max(tonumber(ARGV[a + 3]), now + tonumber(ARGV[a + 4])) + MARGIN
  redis.call('PEXPIREAT', hkey, key_expires)
  redis.call('PEXPIREAT', zkey, key_expires)
  out[2 * i - 1] = used
  out[2 * i] = tonumber(redis.call('HGET', hkey, 'reserved')) or 0
end
return out
