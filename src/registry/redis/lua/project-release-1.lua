--[[
Drop a project's action lease if this holder has it.
KEYS: lease   ARGV[1]: JSON {holder}   Returns the number of keys removed.
]]
local leaseKey = KEYS[1]
local a = cjson.decode(ARGV[1])

if redis.call('GET', leaseKey) == a.holder then return redis.call('DEL', leaseKey) end
return 0
