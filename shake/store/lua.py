"""The campaign store's atomic steps on Redis, as Lua scripts (ARCHITECTURE "Redis keys").

Kept apart from the Python that calls them (`redis_store`) because they are a program of
their own: each script is one atomic step, and each comment says its KEYS and ARGV. The
reservation spells `shake.draw.choose` in Lua; tests/shake/test_payout_rule.py checks
that the two agree.
"""

# KEYS: inflight. ARGV: now_ms, token, limit, stale_ms.
ENTER = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[4]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS: state, users. ARGV: now_ms, user, starts_ms, ends_ms, allowed, per_user_cap,
# min_share, chance_roll, win_chance_ppm, then (min_fen, amount_fen) per candidate.
# The payout rule is shake.draw.choose, spelled in Lua.
RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local state = redis.call('HMGET', KEYS[1],
  'left', 'budget', 'count', 'closed', 'epoch', 'expire_at')
if state[4] == '1' then return {'over'} end
local now = tonumber(ARGV[1])
if now < tonumber(ARGV[3]) or now >= tonumber(ARGV[4]) then return {'over'} end
local left = tonumber(state[1])
if left <= 0 then return {'sold_out'} end
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if mine >= tonumber(ARGV[6]) then return {'limit_reached'} end
if tonumber(state[3]) - left >= tonumber(ARGV[5]) then return {'no_luck'} end
if tonumber(ARGV[8]) >= tonumber(ARGV[9]) then return {'no_luck'} end
local min_share = tonumber(ARGV[7])
local fit = tonumber(state[2]) - (left - 1) * min_share
if fit < min_share then return {'sold_out'} end
local amount = min_share
local pick = ''
for i = 10, #ARGV, 2 do
  local low = tonumber(ARGV[i])
  local drawn = tonumber(ARGV[i + 1])
  if drawn <= fit then amount = drawn; pick = tostring((i - 10) / 2); break end
  if low <= fit then amount = fit; pick = tostring((i - 10) / 2); break end
end
redis.call('HINCRBY', KEYS[1], 'left', -1)
redis.call('HINCRBY', KEYS[1], 'budget', -amount)
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('PEXPIREAT', KEYS[2], state[6])
return {'won', tostring(amount), pick, state[5]}
"""

# Give back (part of) a reservation the database refused, only into the state it was
# taken from (same epoch). ARGV: user, epoch, count, amount, user_wins ('' = minus one).
GIVE_BACK = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return 0 end
local count = tonumber(ARGV[3])
if count > 0 then redis.call('HINCRBY', KEYS[1], 'left', count) end
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', KEYS[1], 'budget', ARGV[4]) end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
elseif count > 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[1], -count)
end
return 1
"""

# Rebuild from the database: atomic check-and-set, so of two concurrent rebuilds only
# the first writes. ARGV: left, budget, count, closed, epoch, expire_at_ms, then pairs.
BUILD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'left', ARGV[1], 'budget', ARGV[2], 'count', ARGV[3],
  'closed', ARGV[4], 'epoch', ARGV[5], 'expire_at', ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if #ARGV >= 7 then redis.call('PEXPIREAT', KEYS[2], ARGV[6]) end
return 1
"""

# The rest of a large rebuild's users, into the same epoch only; a win reserved since
# the rebuild began is kept (the database catches what this undercounts).
BUILD_MORE = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIREAT', KEYS[2], redis.call('HGET', KEYS[1], 'expire_at'))
return 1
"""

SELL_OUT = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'left', 0) end
return 1
"""

CLOSE = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'closed', '1') end
return 1
"""

# The remaining count users see only ever goes down. ARGV: remaining, as_of, expire_at_ms.
SHOW = """
local current = redis.call('GET', KEYS[1])
if current then
  local shown = tonumber(string.match(current, '^(%d+)|'))
  if shown and shown <= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return 1
"""
