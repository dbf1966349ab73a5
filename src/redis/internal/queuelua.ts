/**
 * The Lua scripts of `RedisQueue`, one per operation, each safe to run
 * twice. The keys of one queue are `jobs` (the stream, one consumer group),
 * `dead` (the dead-letter stream) and `errors` (a hash of the last error of
 * each job that failed and waits for its next delivery), all in one slot.
 *
 * A job is in the group's pending list (PEL) from its delivery to its
 * acknowledgement; Redis counts its deliveries there. A claim is "mine"
 * while the PEL names me as the job's owner: every script that acts on a
 * claim checks that first (`XPENDING key group id id 1 me`), so a consumer
 * that lost a job to another (which took it with XAUTOCLAIM after
 * `visibilityMs` without renewal) can neither renew, acknowledge, fail nor
 * release it. A job handed back (released, or failed and waiting to be
 * retried) is moved to the owner `RELEASED` with its idle time set so that
 * the next XAUTOCLAIM of any consumer takes it: at once, or after the retry
 * delay. Acknowledged and dead-lettered jobs are deleted from the stream,
 * so its length is what is still to do.
 */
import { Script } from './scripts.js';

/** The owner of jobs handed back to the queue; consumer names may not start with `~`. */
export const RELEASED = '~released';

/** The one consumer group of a queue's stream. */
export const GROUP = 'workers';

/** Idle time given to a released job: far past any `visibilityMs`, so that the next XAUTOCLAIM takes it. */
export const RELEASE_IDLE = '1000000000000';

// Shared by the scripts: is `id` pending with `me` as its owner? Returns its delivery count, or nil.
const OWNED = `
local function owned(jobs, g, id, me)
  local p = redis.call('XPENDING', jobs, g, id, id, 1, me)
  if p[1] then return p[1][4] end
  return nil
end
local function body(fields)
  if not fields then return nil end
  for i = 1, #fields, 2 do
    if fields[i] == 'j' then return fields[i + 1] end
  end
  return nil
end
local function bury(jobs, dead, errs, g, id, j, n, err)
  redis.call('XADD', dead, '*', 'id', id, 'j', j or '', 'deliveries', n, 'error', err)
  redis.call('XACK', jobs, g, id)
  redis.call('XDEL', jobs, id)
  redis.call('HDEL', errs, id)
end
`;

/**
 * Delivers up to `n` jobs to `me`: first those whose owner let them idle
 * for `minIdle` ms (dead consumers, released jobs), by XAUTOCLAIM from
 * `cursor`, then new ones by XREADGROUP. A reclaimed job delivered more
 * than `maxDeliveries` times goes to the dead-letter stream instead, with
 * its last error. Creates the group (from the stream's start) where it is
 * missing: a new queue, or a Redis that lost its data.
 * KEYS: jobs, dead, errors. ARGV: group, me, n, minIdle, maxDeliveries, cursor.
 * Returns { next cursor, dead-lettered, id1, deliveries1, body1, ... }; a
 * job without a body is returned with deliveries 0 (the consumer buries it).
 */
export const FETCH = new Script(`${OWNED}
local jobs, dead, errs = KEYS[1], KEYS[2], KEYS[3]
local g, me, n, maxd = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[5])
local out = { '0-0', 0 }
local claimed = redis.pcall('XAUTOCLAIM', jobs, g, me, ARGV[4], ARGV[6], 'COUNT', n)
if claimed.err then
  if not string.find(claimed.err, 'NOGROUP') then return redis.error_reply(claimed.err) end
  redis.call('XGROUP', 'CREATE', jobs, g, '0', 'MKSTREAM')
  claimed = { '0-0', {} }
end
out[1] = claimed[1]
local got = 0
for _, e in ipairs(claimed[2]) do
  local id, j = e[1], body(e[2])
  local p = redis.call('XPENDING', jobs, g, id, id, 1)
  local d = p[1] and p[1][4] or 1
  if not e[2] then
    redis.call('XACK', jobs, g, id)
  elseif d > maxd then
    local err = redis.call('HGET', errs, id) or ('delivered ' .. (d - 1) .. ' times without being acknowledged')
    bury(jobs, dead, errs, g, id, j, d - 1, err)
    out[2] = out[2] + 1
  else
    out[#out + 1] = id
    out[#out + 1] = j and d or 0
    out[#out + 1] = j or ''
    got = got + 1
  end
end
if got < n then
  local r = redis.call('XREADGROUP', 'GROUP', g, me, 'COUNT', n - got, 'STREAMS', jobs, '>')
  if r then
    for _, e in ipairs(r[1][2]) do
      local j = body(e[2])
      out[#out + 1] = e[1]
      out[#out + 1] = j and 1 or 0
      out[#out + 1] = j or ''
    end
  end
end
return out
`);

/**
 * Renews `me`'s claims on the ids given (their idle time back to 0, their
 * delivery count unchanged); returns the ids that are no longer mine.
 * KEYS: jobs. ARGV: group, me, id...
 */
export const RENEW = new Script(`${OWNED}
local jobs, g, me = KEYS[1], ARGV[1], ARGV[2]
local lost, keep = {}, {}
local ok = redis.pcall('XPENDING', jobs, g, '-', '+', 1, me)
if ok.err then
  for i = 3, #ARGV do lost[#lost + 1] = ARGV[i] end
  return lost
end
for i = 3, #ARGV do
  if owned(jobs, g, ARGV[i], me) then keep[#keep + 1] = ARGV[i] else lost[#lost + 1] = ARGV[i] end
end
for i = 1, #keep, 500 do
  local args = { 'XCLAIM', jobs, g, me, 0 }
  for k = i, math.min(i + 499, #keep) do args[#args + 1] = keep[k] end
  args[#args + 1] = 'JUSTID'
  redis.call(unpack(args))
end
return lost
`);

/**
 * Acknowledges and deletes the jobs given that are still `me`'s; returns
 * the ids that were not (lost to another consumer: left to it).
 * KEYS: jobs, errors. ARGV: group, me, id...
 */
export const ACK = new Script(`${OWNED}
local jobs, errs, g, me = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local lost, keep = {}, {}
local ok = redis.pcall('XPENDING', jobs, g, '-', '+', 1, me)
if ok.err then
  for i = 3, #ARGV do lost[#lost + 1] = ARGV[i] end
  return lost
end
for i = 3, #ARGV do
  if owned(jobs, g, ARGV[i], me) then keep[#keep + 1] = ARGV[i] else lost[#lost + 1] = ARGV[i] end
end
for i = 1, #keep, 500 do
  local ids = {}
  for k = i, math.min(i + 499, #keep) do ids[#ids + 1] = keep[k] end
  redis.call('XACK', jobs, g, unpack(ids))
  redis.call('XDEL', jobs, unpack(ids))
  redis.call('HDEL', errs, unpack(ids))
end
return lost
`);

/**
 * A delivery of `id` to `me` failed with `err`: if it was the last one
 * allowed (`maxDeliveries`, or 0 to bury it now), the job goes to the
 * dead-letter stream; otherwise the error is kept for its dead letter and
 * the job is handed back, to be taken again `idle` ms short of any
 * `visibilityMs` (the retry delay). Returns 0 when the job is not `me`'s,
 * 1 when it was handed back, 2 when it was dead-lettered.
 * KEYS: jobs, dead, errors. ARGV: group, me, id, err, maxDeliveries, idle.
 */
export const FAIL = new Script(`${OWNED}
local jobs, dead, errs = KEYS[1], KEYS[2], KEYS[3]
local g, me, id, err = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ok, d = pcall(owned, jobs, g, id, me)
if not ok or not d then return 0 end
if d >= tonumber(ARGV[5]) then
  local e = redis.call('XRANGE', jobs, id, id)[1]
  bury(jobs, dead, errs, g, id, e and body(e[2]), d, err)
  return 2
end
redis.call('HSET', errs, id, err)
redis.call('XCLAIM', jobs, g, '${RELEASED}', 0, id, 'IDLE', ARGV[6], 'JUSTID')
return 1
`);

/**
 * Hands the jobs given back to the queue, for any consumer to take at
 * once, without counting the delivery that ends here (it was not tried to
 * its end: the consumer closed, or the job was aborted). With `retire`
 * set, also hands back every other job still pending for `me` (delivered
 * by a read whose answer never arrived) and deletes the consumer `me`.
 * Returns how many were handed back.
 * KEYS: jobs. ARGV: group, me, retire (0 or 1), id...
 */
export const RELEASE = new Script(`${OWNED}
local jobs, g, me = KEYS[1], ARGV[1], ARGV[2]
local ok = redis.pcall('XPENDING', jobs, g, '-', '+', 1, me)
if ok.err then return 0 end
local n = 0
local function back(id, d)
  redis.call('XCLAIM', jobs, g, '${RELEASED}', 0, id, 'IDLE', '${RELEASE_IDLE}', 'RETRYCOUNT', math.max(d - 1, 0), 'JUSTID')
  n = n + 1
end
for i = 4, #ARGV do
  local d = owned(jobs, g, ARGV[i], me)
  if d then back(ARGV[i], d) end
end
if ARGV[3] == '1' then
  for _ = 1, 100 do
    local rest = redis.call('XPENDING', jobs, g, '-', '+', 500, me)
    if #rest == 0 then break end
    for _, p in ipairs(rest) do back(p[1], p[4]) end
  end
  redis.call('XGROUP', 'DELCONSUMER', jobs, g, me)
end
return n
`);

/**
 * The ids of up to 1000 jobs pending for `me` (none if the group is
 * missing). KEYS: jobs. ARGV: group, me.
 */
export const MINE = new Script(`
local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], '-', '+', 1000, ARGV[2])
local out = {}
if p.err then return out end
for i, e in ipairs(p) do out[i] = e[1] end
return out
`);

/**
 * Hands the jobs given that are still `me`'s back to the queue, for any
 * consumer to take at once, keeping their delivery count (the delivery
 * that ends here counts: its consumer died, or never heard of it). What a
 * consumer runs on jobs Redis says it holds and it does not know: those of
 * a predecessor under the same name, or delivered by a read whose answer
 * was lost. Returns how many were handed back.
 * KEYS: jobs. ARGV: group, me, id...
 */
export const ADOPT = new Script(`${OWNED}
local jobs, g, me = KEYS[1], ARGV[1], ARGV[2]
local ok = redis.pcall('XPENDING', jobs, g, '-', '+', 1, me)
if ok.err then return 0 end
local n = 0
for i = 3, #ARGV do
  if owned(jobs, g, ARGV[i], me) then
    redis.call('XCLAIM', jobs, g, '${RELEASED}', 0, ARGV[i], 'IDLE', '${RELEASE_IDLE}', 'JUSTID')
    n = n + 1
  end
end
return n
`);

/**
 * Deletes the consumers that hold no job and were idle for `idleMs`
 * (consumers that died or closed without retiring): losing nothing, since
 * they hold nothing, and a live one that is deleted is made again by its
 * next read. KEYS: jobs. ARGV: group, idleMs. Returns how many went.
 */
export const SWEEP = new Script(`
local info = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if info.err then return 0 end
local n = 0
for _, c in ipairs(info) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f.pending == 0 and f.idle > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f.name)
    n = n + 1
  end
end
return n
`);

/**
 * Adds one job, or, when `KEYS[2]` (its idempotency key) names one added
 * within its time to live, returns that job's id and adds nothing.
 * KEYS: jobs, idempotency key. ARGV: body, ttl ms.
 */
export const ADD_ONCE = new Script(`
local old = redis.call('GET', KEYS[2])
if old then return old end
local id = redis.call('XADD', KEYS[1], '*', 'j', ARGV[1])
redis.call('SET', KEYS[2], id, 'PX', ARGV[2])
return id
`);

/** Adds every body given as a job, in order; returns their ids. KEYS: jobs. ARGV: body... */
export const ADD_MANY = new Script(`
local ids = {}
for i = 1, #ARGV do ids[i] = redis.call('XADD', KEYS[1], '*', 'j', ARGV[i]) end
return ids
`);

/**
 * The queue's figures: { stream length, pending, pending of RELEASED,
 * dead-letter length, name1, pending1, idle1, ... } for each consumer.
 * KEYS: jobs, dead. ARGV: group.
 */
export const STATS = new Script(`
local out = { redis.call('XLEN', KEYS[1]), 0, 0, redis.call('XLEN', KEYS[2]) }
local info = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if info.err then return out end
for _, c in ipairs(info) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  out[2] = out[2] + f.pending
  if f.name == '${RELEASED}' then
    out[3] = f.pending
  else
    out[#out + 1] = f.name
    out[#out + 1] = f.pending
    out[#out + 1] = f.idle
  end
end
return out
`);

/** The oldest `count` dead letters. KEYS: dead. ARGV: count. */
export const DEAD = new Script(`return redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])`);
