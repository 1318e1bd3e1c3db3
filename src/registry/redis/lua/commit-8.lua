--[[
Commit one update of the Redis registry, all or nothing: the projects that
changed, the meta and the order (when they changed), the audit lines, the
archived projects and the last good copy. Refused when another writer
committed since the read (the revision moved) or, for a queue-wide write,
when a newer leader token has been issued since (fencing).

KEYS: rev, meta, order, projects, audit, archive, lastgood, fence
ARGV[1]: JSON, by name:
  expectedRev  the revision the update read
  fence        the leader token the write relies on ('' = none)
  meta, order  the new JSON of each ('' = unchanged)
  set          [[id, project JSON], ...] to write; del: [id, ...] to remove
  audit        [entry JSON, ...]; archive: [project JSON, ...]
  maxLen       approximate cap of the audit and archive streams
  lastGood     the document's canonical JSON ('' = not due); lastGoodAt: epoch ms
  changed      whether the document changed (the revision moves)
  channel, writer  the change is announced on `channel` as "<writer> <rev>"
Returns {'OK', rev} | {'CONFLICT', rev} | {'FENCED', newestToken}.
]]
local revKey, metaKey, orderKey, projectsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local auditKey, archiveKey, lastGoodKey, fenceKey = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local a = cjson.decode(ARGV[1])

local rev = tonumber(redis.call('GET', revKey) or '0')
if rev ~= a.expectedRev then return {'CONFLICT', tostring(rev)} end
if a.fence ~= '' then
  local newest = redis.call('GET', fenceKey) or ''
  if newest ~= a.fence then return {'FENCED', newest} end
end
for _, pair in ipairs(a.set) do redis.call('HSET', projectsKey, pair[1], pair[2]) end
for _, id in ipairs(a.del) do redis.call('HDEL', projectsKey, id) end
if a.meta ~= '' then redis.call('SET', metaKey, a.meta) end
if a.order ~= '' then redis.call('SET', orderKey, a.order) end
for _, entry in ipairs(a.audit) do redis.call('XADD', auditKey, 'MAXLEN', '~', a.maxLen, '*', 'e', entry) end
for _, project in ipairs(a.archive) do redis.call('XADD', archiveKey, 'MAXLEN', '~', a.maxLen, '*', 'p', project) end
if a.changed then rev = redis.call('INCR', revKey) end
if a.lastGood ~= '' then
  redis.call('HSET', lastGoodKey, 'doc', a.lastGood, 'at', a.lastGoodAt, 'rev', tostring(rev))
end
redis.call('PUBLISH', a.channel, a.writer .. ' ' .. tostring(rev))
return {'OK', tostring(rev)}
