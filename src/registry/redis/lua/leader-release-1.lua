--[[
Drop the leader lease if this holder has it.
KEYS: lease   ARGV[1]: JSON {holder}   Returns the number of keys removed.
]]
local leaseKey = KEYS[1]
local a = cjson.decode(ARGV[1])

local current = redis.call('GET', leaseKey)
if current and string.sub(current, 1, #a.holder + 1) == a.holder .. ' ' then return redis.call('DEL', leaseKey) end
return 0
