--[[
Replace the whole stored document at once (repair).

KEYS: rev, meta, order, projects, audit
ARGV[1]: JSON, by name:
  meta, order      the document's meta and order JSON
  projects         [[id, project JSON], ...]
  audit            an audit entry's JSON ('' = none); maxLen: cap of the audit stream
  channel, writer  the change is announced on `channel` as "<writer> <rev>"
Returns the new revision.
]]
local revKey, metaKey, orderKey, projectsKey, auditKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local a = cjson.decode(ARGV[1])

redis.call('DEL', projectsKey)
for _, pair in ipairs(a.projects) do redis.call('HSET', projectsKey, pair[1], pair[2]) end
redis.call('SET', metaKey, a.meta)
redis.call('SET', orderKey, a.order)
if a.audit ~= '' then redis.call('XADD', auditKey, 'MAXLEN', '~', a.maxLen, '*', 'e', a.audit) end
local rev = tostring(redis.call('INCR', revKey))
redis.call('PUBLISH', a.channel, a.writer .. ' ' .. rev)
return rev
