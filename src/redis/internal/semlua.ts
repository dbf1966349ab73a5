/**
 * The Lua scripts of `RedisSemaphore`. One semaphore is six keys in one
 * Cluster slot (`<prefix>:{sem:<name>}:<part>`):
 * - `holders`: a sorted set of lease ids by the time their lease ends;
 * - `queue`: a sorted set of waiting ids by ticket (first come, first served);
 * - `qexp`: the same ids by the time their place in the queue ends;
 * - `weights`: a hash of each id's weight (waiting or holding);
 * - `tokens`: a hash of each holder's fencing token;
 * - `state`: a hash of `used` (the weight held), `seq` (the last ticket)
 *   and `fence` (the last fencing token).
 *
 * Every script first drops the leases and the places in the queue whose
 * time is up (a holder or a waiter that died), then does its part, then
 * grants the head of the queue what now fits, in order, and publishes each
 * grant (`<id> <token> ...`) on the semaphore's channel, so that the waiter
 * wakes without polling. All the keys expire twice `leaseMs` after the last
 * script touched them, and are deleted as soon as nobody holds or waits:
 * an idle semaphore leaves nothing in Redis.
 *
 * The fencing counter starts, when the keys are made, from Redis's clock in
 * microseconds and counts up by one per grant: tokens increase across grants,
 * and also across a loss of the keys (expiry, a restart without
 * persistence) unless grants came faster than one per microsecond.
 *
 * Time is Redis's (`TIME`, in milliseconds); each script is atomic, and a
 * rerun of one (a client that retries) finds its own work done.
 */
import { Script } from './scripts.js';

// KEYS: holders, queue, qexp, weights, tokens, state. ARGV: size, leaseMs, channel, then the script's own.
const PRELUDE = `
local H, Q, QX, W, T, S = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local size = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local chan = ARGV[3]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local used = tonumber(redis.call('HGET', S, 'used') or '0')
local woken = {}

local function purge()
  local dead = redis.call('ZRANGEBYSCORE', H, '-inf', now)
  if #dead > 0 then
    for i = 1, #dead do
      used = used - tonumber(redis.call('HGET', W, dead[i]) or '0')
      redis.call('HDEL', W, dead[i])
      redis.call('HDEL', T, dead[i])
    end
    redis.call('ZREMRANGEBYSCORE', H, '-inf', now)
  end
  local gone = redis.call('ZRANGEBYSCORE', QX, '-inf', now)
  if #gone > 0 then
    for i = 1, #gone do
      redis.call('ZREM', Q, gone[i])
      redis.call('HDEL', W, gone[i])
    end
    redis.call('ZREMRANGEBYSCORE', QX, '-inf', now)
  end
  if used < 0 then used = 0 end
end

local function hold(id, w)
  used = used + w
  local tok = redis.call('HINCRBY', S, 'fence', 1)
  if tok == 1 then
    tok = math.floor(now * 1000)
    redis.call('HSET', S, 'fence', string.format('%d', tok))
  end
  local s = string.format('%d', tok)
  redis.call('ZADD', H, now + lease, id)
  redis.call('HSET', W, id, w)
  redis.call('HSET', T, id, s)
  return s
end

local function drop(id)
  if redis.call('ZREM', H, id) == 1 then
    used = used - tonumber(redis.call('HGET', W, id) or '0')
    if used < 0 then used = 0 end
    redis.call('HDEL', W, id)
    redis.call('HDEL', T, id)
  elseif redis.call('ZREM', Q, id) == 1 then
    redis.call('ZREM', QX, id)
    redis.call('HDEL', W, id)
  end
end

local function grant()
  while true do
    local head = redis.call('ZRANGE', Q, 0, 0)[1]
    if not head then return end
    local w = tonumber(redis.call('HGET', W, head) or '0')
    if used + w > size then return end
    redis.call('ZREM', Q, head)
    redis.call('ZREM', QX, head)
    woken[#woken + 1] = head
    woken[#woken + 1] = hold(head, w)
  end
end

local function held(id)
  if redis.call('ZSCORE', H, id) then return redis.call('HGET', T, id) end
  return false
end

-- Milliseconds until the first lease ends (when a waiter may fit without a release), or -1.
local function hint()
  local first = redis.call('ZRANGE', H, 0, 0, 'WITHSCORES')[2]
  if not first then return -1 end
  return math.ceil(tonumber(first) - now)
end

local function finish()
  if #woken > 0 then redis.call('PUBLISH', chan, table.concat(woken, ' ')) end
  if redis.call('ZCARD', H) == 0 and redis.call('ZCARD', Q) == 0 then
    redis.call('DEL', H, Q, QX, W, T, S)
    return
  end
  redis.call('HSET', S, 'used', used)
  local ttl = math.ceil(lease * 2)
  for i = 1, 6 do redis.call('PEXPIRE', KEYS[i], ttl) end
end
`;

const ACQUIRE = `
local id, w, mode = ARGV[5], tonumber(ARGV[6]), ARGV[4]
purge()
local tok = held(id)
if tok then
  redis.call('ZADD', H, now + lease, id)
  finish()
  return {1, tok}
end
if redis.call('ZSCORE', Q, id) then
  redis.call('ZADD', QX, now + lease, id)
elseif redis.call('ZCARD', Q) == 0 and used + w <= size then
  tok = hold(id, w)
  finish()
  return {1, tok}
elseif mode == 't' then
  grant()
  finish()
  return {0, -1}
else
  redis.call('ZADD', Q, redis.call('HINCRBY', S, 'seq', 1), id)
  redis.call('ZADD', QX, now + lease, id)
  redis.call('HSET', W, id, w)
end
grant()
tok = held(id)
local h = hint()
finish()
if tok then return {1, tok} end
return {0, h}
`;

const RELEASE = `
purge()
drop(ARGV[5])
grant()
finish()
return 1
`;

const RENEW = `
local nh = tonumber(ARGV[5])
purge()
local out = {0}
for i = 6, 5 + nh do
  if redis.call('ZSCORE', H, ARGV[i]) then
    redis.call('ZADD', H, now + lease, ARGV[i])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
for i = 6 + nh, #ARGV do
  if redis.call('ZSCORE', Q, ARGV[i]) then redis.call('ZADD', QX, now + lease, ARGV[i]) end
end
grant()
for i = 6 + nh, #ARGV do
  local tok = held(ARGV[i])
  if tok then
    redis.call('ZADD', H, now + lease, ARGV[i])
    out[#out + 1] = tok
  elseif redis.call('ZSCORE', Q, ARGV[i]) then
    out[#out + 1] = -1
  else
    out[#out + 1] = 0
  end
end
out[1] = hint()
finish()
return out
`;

/**
 * The one script of the semaphore (one, so that a clean-up never meets a
 * script cache that its acquire did not fill). ARGV[4] is the operation:
 * - `'w'` or `'t'`, ARGV[5..6] id, weight: acquire, waiting in the queue
 *   (`'w'`) or only if the weight is free now and nobody waits (`'t'`).
 *   Replies {1, token} when the id holds, {0, hint} when it waits, {0, -1}
 *   when a try failed.
 * - `'r'`, ARGV[5] id: give back what the id holds, or take it out of the
 *   queue. Replies 1.
 * - `'n'`, ARGV[5] the number of holder ids, ARGV[6..] the holder ids, then
 *   the waiter ids: renew the holders' leases and the waiters' places.
 *   Replies {hint, one entry per id}: for a holder 1 (renewed) or 0 (lost);
 *   for a waiter its token (granted; the lease is renewed), -1 (still
 *   waiting) or 0 (its place is gone).
 */
export const SEM = new Script(`${PRELUDE}
local op = ARGV[4]
if op == 'r' then
${RELEASE}
elseif op == 'n' then
${RENEW}
else
${ACQUIRE}
end
`);
