-- settle.lua: replaces reservations by the real usage, atomically; several settlements (of
-- requests that ended in the same event-loop turn) in one call.
-- For settlement i (1-based): KEYS[2i-1] <prefix>budget:<key> (hash used/reserved/r:<id>/x),
-- KEYS[2i] <prefix>budget-exp:<key> (zset); ARGV[5i-4..5i]: reservationId, actual,
-- periodEndMs, reservationTtlMs, heldOnly (1: a retry, charged only while its reservation is held
-- or lapsed unsettled).
-- `actual` is counted in full, even above the reservation or after the reservation lapsed.
-- Returns "used_1,reserved_1,used_2,reserved_2,…" (each as it stands after its settlement).
if redis.replicate_commands then redis.replicate_commands() end

local now = server_now()
local out = {}

for i = 1, #KEYS / 2 do
  local hkey, zkey, a = KEYS[2 * i - 1], KEYS[2 * i], 5 * (i - 1)
  -- A settlement sent again after a failed call (held_only = 1) charges only while its
  -- reservation is still there, or lapsed unsettled (its l: marker): if the first call ran
  -- after all, it dropped both, and the tokens are not counted twice.
  local held_only = ARGV[a + 5] == '1'
  local held = held_only and redis.call('HMGET', hkey, 'r:' .. ARGV[a + 1], 'l:' .. ARGV[a + 1])
  if held_only and not held[1] and not held[2] then
    local h = redis.call('HMGET', hkey, 'used', 'reserved')
    out[2 * i - 1] = tonumber(h[1]) or 0
    out[2 * i] = tonumber(h[2]) or 0
  else
  drop_reservation(hkey, zkey, ARGV[a + 1])
  local used = redis.call('HINCRBY', hkey, 'used', tonumber(ARGV[a + 2]))
  local h = redis.call('HMGET', hkey, 'reserved', 'x')
  extend_key(hkey, zkey, math.max(tonumber(ARGV[a + 3]), now + tonumber(ARGV[a + 4])) + MARGIN, h[2])
  out[2 * i - 1] = used
  out[2 * i] = tonumber(h[1]) or 0
  end
end
-- One bulk string of integers (`1,-1,1733250000000,…`) instead of an array: the client decodes
-- one string per call instead of one RESP integer per value.
for i = 1, #out do out[i] = string.format('%d', out[i]) end
return table.concat(out, ',')
