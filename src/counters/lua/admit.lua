-- admit.lua: admissions of several requests (groups), one after the other, in one call: each
-- group checks every claim of one request and commits them only if all fit (all-or-nothing),
-- exactly as if each group were its own call, in order.
-- Runs atomically inside Redis; time is Redis server time, so replicas with skewed clocks agree.
-- Window arithmetic mirrors src/counters/windowMath.ts operation for operation.
--
-- KEYS, group after group, in claim order: a window claim uses 1 key (<prefix>rl:<key>, hash
--   i/c/p); a budget claim uses 2 keys (<prefix>budget:<key>, hash used/reserved/r:<id>/x;
--   <prefix>budget:<key>:exp, zset reservation id -> expiry ms).
-- Expiry is set only when it moves: a window key's when its window starts (every later write
--   in that window would set the same instant); a budget hash's when the instant it needs
--   passes the one it holds (field x). The zset's is set on every ZADD (an emptied zset is
--   deleted and comes back without one), never below x.
-- ARGV, group after group: commit (1 = commit when all fit, 0 = check only), claim count, then
--   6 values per claim:
--   window: 1, limit, windowMs, sliding (1|0), cost, 0
--   budget: 2, limit, amount, periodEndMs, reservationTtlMs, reservationId
--   (numbers where a string is not needed: the client writes those without a string)
-- Returns one comma-separated string of integers, group after group: admitted (1|0), refusedIndex (0-based, -1), nowMs,
--   then per claim: remaining, resetMs, used, reserved.
if redis.replicate_commands then redis.replicate_commands() end

local now = server_now()

local function read_window(s, key, a)
  local w = tonumber(ARGV[a + 2])
  local idx = math.floor(now / w)
  local h = redis.call('HMGET', key, 'i', 'c', 'p')
  local i, c, p = tonumber(h[1]) or -1, tonumber(h[2]) or 0, tonumber(h[3]) or 0
  if i >= idx then s.cur, s.prev, s.idx = c, p, i -- i > idx: clock went back, keep the newest
  elseif i == idx - 1 then s.cur, s.prev, s.idx, s.fresh = 0, c, idx, true
  else s.cur, s.prev, s.idx, s.fresh = 0, 0, idx, true end
  s.w, s.elapsed, s.sliding, s.cost = w, now - idx * w, ARGV[a + 3] == '1', tonumber(ARGV[a + 4])
  local count = s.cur
  if s.sliding then count = s.prev * ((w - s.elapsed) / w) + s.cur end
  return count + s.cost <= s.limit
end

-- Budgets already purged in this call: `now` does not move within it, and the reservations it
-- adds expire later, so a second purge of the same budget would find nothing.
local purged = {}

local function read_budget(s, hkey, zkey, a)
  if not purged[hkey] then
    purge_expired(hkey, zkey, now)
    purged[hkey] = true
  end
  s.id = ARGV[a + 5]
  local h = redis.call('HMGET', hkey, 'used', 'reserved', 'r:' .. s.id, 'x')
  s.used, s.reserved, s.old, s.x = tonumber(h[1]) or 0, tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0
  s.amount, s.period_end, s.ttl = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  return s.used + s.reserved - s.old + s.amount <= s.limit
end

local function sliding_reset(s)
  local to_end = s.w - s.elapsed
  if s.cur + s.cost <= s.limit then
    if s.prev == 0 then return to_end end
    local r = math.ceil(to_end - ((s.limit - s.cost - s.cur) * s.w) / s.prev)
    if r <= 0 then return to_end end
    return r
  end
  if s.cost > s.limit then return to_end + s.w end
  return to_end + math.ceil(s.w - ((s.limit - s.cost) * s.w) / s.cur)
end

local function write_window(s, key)
  s.cur = s.cur + s.cost
  redis.call('HSET', key, 'i', s.idx, 'c', s.cur, 'p', s.prev)
  if not s.fresh then return end -- written in this window before: its expiry is set
  local ttl = s.w - s.elapsed
  if s.sliding then ttl = ttl + s.w end
  redis.call('PEXPIRE', key, ttl)
end

local function write_budget(s, hkey, zkey)
  local expires = now + s.ttl
  local key_expires = math.max(s.period_end, expires) + MARGIN
  if key_expires > s.x then
    redis.call('HSET', hkey, 'r:' .. s.id, s.amount, 'x', key_expires)
    redis.call('PEXPIREAT', hkey, key_expires)
    s.x = key_expires
  else
    redis.call('HSET', hkey, 'r:' .. s.id, s.amount)
  end
  s.reserved = redis.call('HINCRBY', hkey, 'reserved', s.amount - s.old)
  redis.call('ZADD', zkey, expires, s.id)
  redis.call('PEXPIREAT', zkey, s.x)
end

-- One group (request): ARGV from `a0` (its commit flag), KEYS from `k0`; appends its answer to
-- `out`; returns where the next group's ARGV and KEYS start.
local function admit_group(out, a0, k0)
  local commit = ARGV[a0] == '1'
  local n = tonumber(ARGV[a0 + 1])
  -- Pass 1: read every claim (their states are reported either way); note the first refusal.
  local states, keyat = {}, {}
  local refused = -1
  local k = k0
  for c = 1, n do
    local a = a0 + 2 + (c - 1) * 6
    local s = { limit = tonumber(ARGV[a + 1]) }
    local fits
    keyat[c] = k
    if ARGV[a] == '1' then
      fits = read_window(s, KEYS[k], a)
      k = k + 1
    else
      fits = read_budget(s, KEYS[k], KEYS[k + 1], a)
      k = k + 2
    end
    if not fits and refused < 0 then refused = c - 1 end
    states[c] = s
  end

  -- Pass 2: commit all (only when every claim fits), then report.
  local write = commit and refused < 0
  local o = #out
  out[o + 1], out[o + 2], out[o + 3] = 0, refused, now
  if refused < 0 then out[o + 1] = 1 end
  for c = 1, n do
    local s, kk = states[c], keyat[c]
    local j = o + 4 + (c - 1) * 4
    if s.w then
      if write then write_window(s, KEYS[kk]) end
      if s.sliding then
        local est = s.prev * ((s.w - s.elapsed) / s.w) + s.cur
        out[j] = math.max(0, math.floor(s.limit - est))
        out[j + 1] = sliding_reset(s)
      else
        out[j] = math.max(0, s.limit - s.cur)
        out[j + 1] = s.w - s.elapsed
      end
      out[j + 2], out[j + 3] = 0, 0
    else
      if write then write_budget(s, KEYS[kk], KEYS[kk + 1]) end
      out[j] = math.max(0, s.limit - s.used - s.reserved)
      out[j + 1] = math.max(0, s.period_end - now)
      out[j + 2], out[j + 3] = s.used, s.reserved
    end
  end
  return a0 + 2 + n * 6, k
end

local out = {}
local a, k = 1, 1
while a <= #ARGV do
  a, k = admit_group(out, a, k)
end
-- One bulk string of integers (`1,-1,1733250000000,…`) instead of an array: the client decodes
-- one string per call instead of one RESP integer per value.
for i = 1, #out do out[i] = string.format('%d', out[i]) end
return table.concat(out, ',')
