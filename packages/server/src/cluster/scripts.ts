import type { Redis } from 'ioredis';

// Times come from the caller's clock (ARGV), like the in-process counters, so
// both pass the same tests with a fake clock; instances keep their clocks in
// sync (NTP).

/**
 * Sliding window, the same arithmetic as `MemoryRateLimiter`: the previous
 * window's count weighted by how much of it still overlaps, plus this one's.
 * Each key is a hash {s: window start, c: count, p: previous count}.
 */
const rateFunction = `
local function hit(key, now, limit, windowMs)
  local state = redis.call('HMGET', key, 's', 'c', 'p')
  local startedAt = tonumber(state[1]) or now
  local count = tonumber(state[2]) or 0
  local previous = tonumber(state[3]) or 0
  local elapsed = math.floor((now - startedAt) / windowMs)
  if elapsed >= 2 then
    previous = 0
    count = 0
    startedAt = now
  elseif elapsed == 1 then
    previous = count
    count = 0
    startedAt = startedAt + windowMs
  end
  local overlap = 1 - (now - startedAt) / windowMs
  local estimated = previous * overlap + count
  local allowed = 0
  local retryAfter = 0
  local remaining = 0
  if estimated + 1 > limit then
    local waitMs
    if previous > 0 and count < limit then
      waitMs = math.max(0, ((previous * overlap + count + 1 - limit) / previous) * windowMs)
    else
      waitMs = startedAt + windowMs - now
    end
    retryAfter = math.max(1, math.ceil(waitMs / 1000))
  else
    count = count + 1
    allowed = 1
    remaining = math.max(0, math.floor(limit - estimated - 1))
  end
  redis.call('HSET', key, 's', string.format('%d', startedAt), 'c', count, 'p', previous)
  redis.call('PEXPIRE', key, 2 * windowMs)
  return allowed, retryAfter, remaining
end
`;

/** One hit. KEYS[1]; ARGV now, limit, windowMs. Answers {allowed 0|1, retryAfterSeconds, remaining}. */
const rateHit = `${rateFunction}
local allowed, retryAfter, remaining = hit(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
return {allowed, retryAfter, remaining}
`;

/**
 * Hits each key in order in one round trip, stopping at the first refusal
 * (later keys are not counted). KEYS the windows; ARGV now, then limit and
 * windowMs for each key. Answers {index of the refusing key from 1 (0: all
 * admitted), retryAfterSeconds, remaining of the last hit}.
 */
const rateHitInOrder = `${rateFunction}
local now = tonumber(ARGV[1])
local remaining = 0
for index, key in ipairs(KEYS) do
  local allowed, retryAfter, left = hit(key, now, tonumber(ARGV[index * 2]), tonumber(ARGV[index * 2 + 1]))
  if allowed == 0 then return {index, retryAfter, 0} end
  remaining = left
end
return {0, 0, remaining}
`;

/**
 * A slot: a member of a sorted set scored by its lease's expiry; expired
 * leases (a crashed instance) are dropped before counting.
 * KEYS[1] sorted set; ARGV now, limit, lease id, lease ms. Answers 1 taken, 0 full.
 */
const slotAcquire = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

/** Extends a lease still held. KEYS[1] sorted set; ARGV now, lease id, lease ms. */
const slotRenew = `
if redis.call('ZSCORE', KEYS[1], ARGV[2]) == false then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * Adds to a budget unless it would pass the limit (-1: none); the budget
 * expires with its token. KEYS[1] counter; ARGV amount, limit, expires-at ms.
 * Answers {accepted 0|1, total}.
 */
const budgetAdd = `
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
if limit >= 0 and total + amount > limit then return {0, total} end
total = redis.call('INCRBY', KEYS[1], amount)
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return {1, total}
`;

/**
 * Claims a once-only key: 'claimed', or the holder's value ('answered' or
 * 'running:<claim>'). KEYS[1]; ARGV running value, running ms.
 */
const onceClaim = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'claimed' end
return redis.call('GET', KEYS[1])
`;

/** Settles a claim still held by its claimer. KEYS[1]; ARGV running value, answered 0|1, remember ms. */
const onceSettle = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], 'answered', 'PX', ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
return 1
`;

type Arg = string | number;

/**
 * The Lua scripts, sent with EVALSHA (ioredis reloads them after a Redis restart).
 *
 * @example
 * ```ts
 * const scripts = defineScripts(redis);
 * const [allowed] = await scripts.airlockRateHit('airlock:rate:k', Date.now(), 10, 60_000);
 * ```
 */
export interface LimitScripts {
  airlockRateHit(key: string, now: Arg, limit: Arg, windowMs: Arg): Promise<[number, number, number]>;
  airlockRateHitInOrder(keyCount: number, ...keysThenArguments: Arg[]): Promise<[number, number, number]>;
  airlockSlotAcquire(key: string, now: Arg, limit: Arg, leaseId: string, leaseMs: Arg): Promise<number>;
  airlockSlotRenew(key: string, now: Arg, leaseId: string, leaseMs: Arg): Promise<number>;
  airlockBudgetAdd(key: string, amount: Arg, limit: Arg, expiresAt: Arg): Promise<[number, number]>;
  airlockOnceClaim(key: string, value: string, runningMs: Arg): Promise<string | null>;
  airlockOnceSettle(key: string, value: string, answered: Arg, rememberMs: Arg): Promise<number>;
}

/**
 * Registers the scripts on a connection (idempotent) and returns it typed.
 *
 * @example
 * ```ts
 * const scripts = defineScripts(redis);
 * ```
 */
export function defineScripts(redis: Redis): Redis & LimitScripts {
  const scripts: Record<keyof LimitScripts, string> = {
    airlockRateHit: rateHit,
    airlockRateHitInOrder: rateHitInOrder,
    airlockSlotAcquire: slotAcquire,
    airlockSlotRenew: slotRenew,
    airlockBudgetAdd: budgetAdd,
    airlockOnceClaim: onceClaim,
    airlockOnceSettle: onceSettle,
  };
  for (const [name, lua] of Object.entries(scripts)) {
    // The in-order hit takes any number of keys, given as its first argument.
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: name === 'airlockRateHitInOrder' ? undefined : 1, lua });
  }
  return redis as Redis & LimitScripts;
}
