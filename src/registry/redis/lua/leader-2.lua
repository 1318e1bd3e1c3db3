--[[
Take or renew the leader lease. The value is "<holder> <token>"; a new holder
gets a fresh fencing token from INCR.

KEYS: lease, fence
ARGV[1]: JSON {holder, ttlMs}
Returns {leader (1/0), token, holder, ms until the lease expires}.
]]
local leaseKey, fenceKey = KEYS[1], KEYS[2]
local a = cjson.decode(ARGV[1])

local current = redis.call('GET', leaseKey)
if current then
  local sep = string.find(current, ' ', 1, true)
  local holder = sep and string.sub(current, 1, sep - 1) or current
  local token = sep and string.sub(current, sep + 1) or ''
  if holder == a.holder then
    redis.call('PEXPIRE', leaseKey, a.ttlMs)
    return {1, token, holder, a.ttlMs}
  end
  return {0, token, holder, redis.call('PTTL', leaseKey)}
end
local token = tostring(redis.call('INCR', fenceKey))
redis.call('SET', leaseKey, a.holder .. ' ' .. token, 'PX', a.ttlMs)
return {1, token, a.holder, a.ttlMs}
