/**
 * The Lua scripts of the Redis registry. Each runs atomically on the server,
 * so a commit (document, audit lines, archive, last good copy) is all or
 * nothing, and a lease is taken and its fencing token issued in one step.
 * Keys are passed in KEYS (never built in Lua), so a prefix with a Cluster
 * hash tag (`{toa}:`) keeps every key of one registry in one slot.
 */

/**
 * Commit one update.
 * KEYS: rev, meta, order, projects, audit, archive, lastgood, fence
 * ARGV: expectedRev, fence ('' = none), meta ('' = unchanged), order ('' = unchanged),
 *       nSet, nDel, nAudit, nArchive, maxLen, lastGood ('' = none), lastGoodAt, changed ('1'/'0'),
 *       change channel, writer id,
 *       then nSet (id, json) pairs, nDel ids, nAudit entries, nArchive entries.
 * A change is announced on the channel as "<writer id> <rev>" (daemons watch it).
 * Returns {'OK', rev} | {'CONFLICT', rev} | {'FENCED', newestToken}.
 */
export const COMMIT_SCRIPT = `
local rev = tonumber(redis.call('GET', KEYS[1]) or '0')
if rev ~= tonumber(ARGV[1]) then return {'CONFLICT', tostring(rev)} end
if ARGV[2] ~= '' then
  local newest = redis.call('GET', KEYS[8]) or ''
  if newest ~= ARGV[2] then return {'FENCED', newest} end
end
local nSet, nDel, nAudit, nArchive = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local maxLen = ARGV[9]
local i = 15
for _ = 1, nSet do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, nDel do
  redis.call('HDEL', KEYS[4], ARGV[i])
  i = i + 1
end
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3]) end
if ARGV[4] ~= '' then redis.call('SET', KEYS[3], ARGV[4]) end
for _ = 1, nAudit do
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', maxLen, '*', 'e', ARGV[i])
  i = i + 1
end
for _ = 1, nArchive do
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', maxLen, '*', 'p', ARGV[i])
  i = i + 1
end
if ARGV[12] == '1' then rev = redis.call('INCR', KEYS[1]) end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[7], 'doc', ARGV[10], 'at', ARGV[11], 'rev', tostring(rev)) end
redis.call('PUBLISH', ARGV[13], ARGV[14] .. ' ' .. tostring(rev))
return {'OK', tostring(rev)}
`;

/**
 * Replace the whole stored document (repair, and a migration target).
 * KEYS: rev, meta, order, projects, audit
 * ARGV: meta, order, auditEntry ('' = none), maxLen, change channel, writer id, then (id, json) pairs.
 */
export const REPLACE_SCRIPT = `
redis.call('DEL', KEYS[4])
local i = 7
while i <= #ARGV do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[2])
if ARGV[3] ~= '' then redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*', 'e', ARGV[3]) end
local rev = tostring(redis.call('INCR', KEYS[1]))
redis.call('PUBLISH', ARGV[5], ARGV[6] .. ' ' .. rev)
return rev
`;

/**
 * Take or renew the leader lease. The value is "<holder> <token>"; a new
 * holder gets a fresh fencing token from INCR.
 * KEYS: lease, fence   ARGV: holder, ttlMs
 * Returns {leader (1/0), token, holder, ms until the lease expires}.
 */
export const LEADER_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, ' ', 1, true)
  local holder = sep and string.sub(current, 1, sep - 1) or current
  local token = sep and string.sub(current, sep + 1) or ''
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, token, holder, tonumber(ARGV[2])}
  end
  return {0, token, holder, redis.call('PTTL', KEYS[1])}
end
local token = tostring(redis.call('INCR', KEYS[2]))
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. token, 'PX', ARGV[2])
return {1, token, ARGV[1], tonumber(ARGV[2])}
`;

/** Drop the leader lease if this holder has it. KEYS: lease  ARGV: holder */
export const LEADER_RELEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. ' ' then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Take (or extend, when already ours) one project's action lease. KEYS: lease  ARGV: holder, ttlMs  Returns 1 when held. */
export const PROJECT_LEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** Drop a project's action lease if this holder has it. KEYS: lease  ARGV: holder */
export const PROJECT_RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
