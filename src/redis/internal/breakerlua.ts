/**
 * The Lua scripts of `breakerStore`: gobreaker's state machine on a shared
 * record, with Redis's clock. One breaker is two keys in one Cluster slot
 * (`<prefix>:{breaker:<name>}:<part>`): `state`, a hash of the state (0
 * closed, 1 open, 2 half-open), its generation, when it ends, the open time
 * (grown by backoff) and the five counts; and `probes`, a sorted set of the
 * half-open trials in flight by the end of their lease, so that a prober
 * that died frees its place after `probeLeaseMs`.
 *
 * A generation starts from Redis's clock in milliseconds and counts up by
 * one at each change, so that a record that was lost (expiry, a restart)
 * starts a generation no process has seen. The record expires an hour after
 * its state's own end, or after an hour without requests: a breaker nobody
 * used for that long starts closed, with zero counts.
 */
import { Script } from './scripts.js';

// KEYS: state, probes. ARGV: maxRequests, interval, timeout, multiplier, maxTimeout, probeLeaseMs, then the script's own.
const PRELUDE = `
local K, P = KEYS[1], KEYS[2]
local maxReq = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local timeout = tonumber(ARGV[3])
local mult = tonumber(ARGV[4])
local maxTimeout = tonumber(ARGV[5])
local probeMs = tonumber(ARGV[6])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local h = redis.call('HMGET', K, 'st', 'gen', 'exp', 'ot', 'req', 'ts', 'tf', 'cs', 'cf')
local st = tonumber(h[1]) or 0
local gen = tonumber(h[2])
local exp = tonumber(h[3]) or -1
local ot = tonumber(h[4]) or timeout
local req, ts, tf, cs, cf = tonumber(h[5]) or 0, tonumber(h[6]) or 0, tonumber(h[7]) or 0, tonumber(h[8]) or 0, tonumber(h[9]) or 0

local function newgen()
  gen = gen + 1
  req, ts, tf, cs, cf = 0, 0, 0, 0, 0
  if st == 1 then exp = now + ot elseif st == 0 and interval > 0 then exp = now + interval else exp = -1 end
  redis.call('DEL', P)
end

if not gen then
  gen = math.floor(now) - 1
  st, ot = 0, timeout
  newgen()
end
if exp >= 0 and now >= exp then
  if st == 1 then st = 2 end
  newgen()
end

local function reply(admitted)
  local ttl = 3600000
  local left = -1
  if exp >= 0 then
    left = math.ceil(exp - now)
    if left < 0 then left = 0 end
    ttl = ttl + left
  end
  redis.call('HSET', K, 'st', st, 'gen', gen, 'exp', exp, 'ot', ot, 'req', req, 'ts', ts, 'tf', tf, 'cs', cs, 'cf', cf)
  redis.call('PEXPIRE', K, ttl)
  redis.call('PEXPIRE', P, ttl)
  return {admitted, st, gen, left, req, ts, tf, cs, cf}
end
`;

const ADMIT = `
if st == 1 then return reply(0) end
if st == 2 then
  redis.call('ZREMRANGEBYSCORE', P, '-inf', now)
  if redis.call('ZCARD', P) >= maxReq then return reply(0) end
  redis.call('ZADD', P, now + probeMs, ARGV[8])
end
req = req + 1
return reply(1)
`;

const RECORD = `
if tonumber(ARGV[9]) ~= gen then return reply(0) end
if st == 2 then redis.call('ZREM', P, ARGV[8]) end
local o = ARGV[10]
if o == 'x' then
  if req > 0 then req = req - 1 end
elseif o == 's' then
  ts, cs, cf = ts + 1, cs + 1, 0
  if st == 2 and cs >= maxReq then
    st, ot = 0, timeout
    newgen()
  end
else
  tf, cf, cs = tf + 1, cf + 1, 0
  if st == 2 then
    ot = math.min(maxTimeout, ot * mult)
    st = 1
    newgen()
  end
end
return reply(1)
`;

const TRIP = `
if tonumber(ARGV[8]) == gen and st == 0 then
  st = 1
  newgen()
end
return reply(1)
`;

/**
 * The one script of the store. ARGV[7] is the operation:
 * - `'a'`, ARGV[8] the request's ticket: admit it or not; a half-open
 *   trial takes a leased place;
 * - `'r'`, ARGV[8..10] the ticket, the generation it was admitted in, and
 *   the outcome ('s' success, 'f' failure, 'x' excluded): record it; a
 *   result of an older generation is ignored;
 * - `'t'`, ARGV[8] the generation that `readyToTrip` judged: open the
 *   breaker if it is still closed in it.
 * Each replies {admitted, state, generation, ms left or -1, the 5 counts}.
 */
export const BREAKER = new Script(`${PRELUDE}
local op = ARGV[7]
if op == 'a' then
${ADMIT}
elseif op == 'r' then
${RECORD}
else
${TRIP}
end
`);
