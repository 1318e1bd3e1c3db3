--[[
Take (or extend, when already ours) one project's action lease.
KEYS: lease   ARGV[1]: JSON {holder, ttlMs}   Returns 1 when held.
]]
local leaseKey = KEYS[1]
local a = cjson.decode(ARGV[1])

local current = redis.call('GET', leaseKey)
if current and current ~= a.holder then return 0 end
redis.call('SET', leaseKey, a.holder, 'PX', a.ttlMs)
return 1
