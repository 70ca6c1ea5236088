-- rollback.lua: undoes an admission made by admit.lua (same KEYS and per-claim ARGV layout).
-- Used only when a request's in-process (local-policy) part refused after its Redis part was
-- admitted. ARGV[1]: the nowMs admit.lua returned, so windows are decremented in the window the
-- admission counted in (or in the previous slot, if the window rolled since).
-- Windows lose `cost` (never below 0); budgets drop the reservation.
local at = tonumber(ARGV[1])
local n = (#ARGV - 1) / 6
local k = 1
for c = 1, n do
  local a = 2 + (c - 1) * 6
  if ARGV[a] == 'w' then
    local key = KEYS[k]
    local idx = math.floor(at / tonumber(ARGV[a + 2]))
    local cost = tonumber(ARGV[a + 4])
    local h = redis.call('HMGET', key, 'i', 'c', 'p')
    local i = tonumber(h[1])
    if i == idx then
      redis.call('HSET', key, 'c', math.max(0, (tonumber(h[2]) or 0) - cost))
    elseif i == idx + 1 then
      redis.call('HSET', key, 'p', math.max(0, (tonumber(h[3]) or 0) - cost))
    end
    k = k + 1
  else
    local hkey, zkey, id = KEYS[k], KEYS[k + 1], ARGV[a + 5]
    drop_reservation(hkey, zkey, id)
    k = k + 2
  end
end
return n
