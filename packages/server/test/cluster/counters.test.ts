// One behaviour suite for the limit counters, run against the in-process
// implementation and the Redis one (a real redis-server), so both mean the same.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLimitCounters } from '../../src/cluster/redis-counters.js';
import { RedisRateLimiter } from '../../src/cluster/redis-rate-limiter.js';
import { MemoryLimitCounters, type LimitCounters } from '../../src/limits/counters.js';
import { MemoryRateLimiter, type RateLimiter, type RateLimitResult } from '../../src/limits/rate-limiter.js';
import { startRedis, type RedisServer } from '@airlock/test-services';

let redis: RedisServer;
const connections: Redis[] = [];
let run = 0;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const connection of connections) connection.disconnect();
  await redis.close();
});

function connection(): Redis {
  const opened = new Redis(redis.url);
  connections.push(opened);
  return opened;
}

// Each test gets its own key prefix, so the Redis runs never see each other's counts.
const prefix = () => `test${++run}:`;

interface Clock {
  now: number;
}

const rateLimiters: [string, (clock: Clock) => RateLimiter][] = [
  ['MemoryRateLimiter', (clock) => new MemoryRateLimiter({ now: () => clock.now })],
  ['RedisRateLimiter', (clock) => new RedisRateLimiter(connection(), { keyPrefix: prefix(), now: () => clock.now })],
];

describe.each(rateLimiters)('%s', (_name, create) => {
  it('admits exactly the limit in a window, then refuses with Retry-After', async () => {
    const clock = { now: 1_000_000 };
    const limiter = create(clock);
    const results: RateLimitResult[] = [];
    for (let index = 0; index < 4; index += 1) results.push(await limiter.hit('k', 3, 60_000));
    expect(results.map((result) => result.allowed)).toEqual([true, true, true, false]);
    expect(results.map((result) => result.remaining)).toEqual([2, 1, 0, 0]);
    expect(results[3]!.retryAfterSeconds).toBe(60);
    // Other keys are counted on their own.
    expect((await limiter.hit('other', 3, 60_000)).allowed).toBe(true);
  });

  it('slides: the previous window counts by how much of it still overlaps', async () => {
    const clock = { now: 5_000_000 };
    const limiter = create(clock);
    for (let index = 0; index < 4; index += 1) await limiter.hit('k', 4, 60_000);
    clock.now += 60_000; // previous window full, overlap 1
    expect((await limiter.hit('k', 4, 60_000)).allowed).toBe(false);
    clock.now += 30_000; // overlap 0.5: about 2 of the previous 4 still count
    const admitted = [await limiter.hit('k', 4, 60_000), await limiter.hit('k', 4, 60_000), await limiter.hit('k', 4, 60_000)];
    expect(admitted.map((result) => result.allowed)).toEqual([true, true, false]);
    expect(admitted[2]!.retryAfterSeconds).toBe(15);
    clock.now += 120_000; // two idle windows: nothing counts
    expect((await limiter.hit('k', 4, 60_000)).remaining).toBe(3);
  });

  it('gives the same answers as the in-process limiter for an irregular run of hits', async () => {
    const clock = { now: 9_000_000 };
    const reference = { now: 9_000_000 };
    const limiter = create(clock);
    const memory = new MemoryRateLimiter({ now: () => reference.now });
    // A fixed pseudo-random run, so a failure can be replayed.
    let seed = 42;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const outcomes = { allowed: 0, refused: 0 };
    for (let index = 0; index < 300; index += 1) {
      // Mostly bursts, sometimes a pause longer than two windows.
      const step = random() < 0.02 ? 45_000 : Math.floor(random() * 2_500);
      clock.now += step;
      reference.now += step;
      const key = random() < 0.5 ? 'a' : 'b';
      const result = await limiter.hit(key, 7, 20_000);
      expect(result).toEqual(await memory.hit(key, 7, 20_000));
      outcomes[result.allowed ? 'allowed' : 'refused'] += 1;
    }
    // The run exercised both answers, not just one.
    expect(outcomes.allowed).toBeGreaterThan(50);
    expect(outcomes.refused).toBeGreaterThan(50);
  });
});

describe('RedisRateLimiter across connections', () => {
  it('admits exactly the limit when hit concurrently from two connections (two instances)', async () => {
    const keyPrefix = prefix();
    const first = new RedisRateLimiter(connection(), { keyPrefix });
    const second = new RedisRateLimiter(connection(), { keyPrefix });
    const results = await Promise.all(Array.from({ length: 60 }, (_, index) => (index % 2 === 0 ? first : second).hit('widget', 25, 60_000)));
    expect(results.filter((result) => result.allowed)).toHaveLength(25);
  });
});

const counterImplementations: [string, () => LimitCounters][] = [
  ['MemoryLimitCounters', () => new MemoryLimitCounters()],
  ['RedisLimitCounters', () => new RedisLimitCounters(connection(), { keyPrefix: prefix() })],
];

describe.each(counterImplementations)('%s', (_name, create) => {
  it('counts several limits in order, stopping at the first refusal', async () => {
    const counters = create();
    const checks = [
      { key: 'narrow', limit: 2, windowMs: 60_000 },
      { key: 'wide', limit: 10, windowMs: 60_000 },
    ];
    expect(await counters.hitInOrder(checks)).toBeUndefined();
    expect(await counters.hitInOrder(checks)).toBeUndefined();
    const refusal = await counters.hitInOrder(checks);
    expect(refusal).toMatchObject({ index: 0, result: { allowed: false } });
    expect(refusal!.result.retryAfterSeconds).toBe(60);
    await counters.hitInOrder(checks);
    // The wide limit counted only the two admitted requests.
    expect((await counters.hit('wide', 10, 60_000)).remaining).toBe(7);
    expect(
      await counters.hitInOrder([
        { key: 'narrow-2', limit: 5, windowMs: 60_000 },
        { key: 'wide', limit: 3, windowMs: 60_000 },
      ]),
    ).toMatchObject({
      index: 1,
    });
  });

  it('hands out at most `limit` slots, and releases each once', async () => {
    const counters = create();
    const first = await counters.acquireSlot('v', 2);
    const second = await counters.acquireSlot('v', 2);
    expect(first && second).toBeTruthy();
    expect(await counters.acquireSlot('v', 2)).toBeUndefined();
    expect(await counters.acquireSlot('someone-else', 2)).toBeDefined();
    await first!.release();
    await first!.release(); // a second release must not free a slot it does not hold
    const third = await counters.acquireSlot('v', 2);
    expect(third).toBeDefined();
    expect(await counters.acquireSlot('v', 2)).toBeUndefined();
    await second!.release();
    await third!.release();
  });

  it('keeps budgets under their limit, and forgets them after they expire', async () => {
    const counters = create();
    const expiresAt = Date.now() + 300;
    expect(await counters.addToBudget('b', 2, { limit: 3, expiresAt })).toEqual({ accepted: true, total: 2 });
    expect(await counters.addToBudget('b', 2, { limit: 3, expiresAt })).toEqual({ accepted: false, total: 2 });
    expect(await counters.addToBudget('b', 1, { limit: 3, expiresAt })).toEqual({ accepted: true, total: 3 });
    expect(await counters.addToBudget('b', 40, { expiresAt })).toEqual({ accepted: true, total: 43 });
    expect(await counters.readBudget('b')).toBe(43);
    expect(await counters.readBudget('never-used')).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await counters.readBudget('b')).toBe(0);
  });

  it('claims a once-only key for one caller; settles it as answered or forgotten', async () => {
    const counters = create();
    const claim = await counters.claimOnce('turn', 60_000);
    expect(claim.claimed).toBe(true);
    expect(await counters.claimOnce('turn', 60_000)).toEqual({ claimed: false, state: 'running' });
    // Only the holder's claim settles it.
    await counters.settleOnce('turn', 'not-the-claim', false, 60_000);
    expect(await counters.claimOnce('turn', 60_000)).toEqual({ claimed: false, state: 'running' });
    await counters.settleOnce('turn', (claim as { claim: string }).claim, true, 200);
    expect(await counters.claimOnce('turn', 60_000)).toEqual({ claimed: false, state: 'answered' });
    await new Promise((resolve) => setTimeout(resolve, 250));
    const again = await counters.claimOnce('turn', 60_000);
    expect(again.claimed).toBe(true);
    await counters.settleOnce('turn', (again as { claim: string }).claim, false, 60_000);
    expect((await counters.claimOnce('turn', 60_000)).claimed).toBe(true);
  });
});

describe('RedisLimitCounters leases', () => {
  it('renews a slot while it is held, and lets a crashed holder\u2019s slot lapse', async () => {
    const keyPrefix = prefix();
    const holder = connection();
    const crashing = new RedisLimitCounters(holder, { keyPrefix, slotLeaseMs: 300 });
    const other = new RedisLimitCounters(connection(), { keyPrefix, slotLeaseMs: 300 });
    const kept = await other.acquireSlot('v', 2);
    expect(await crashing.acquireSlot('v', 2)).toBeDefined();
    // Both held past several lease lengths: renewals keep them.
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await other.acquireSlot('v', 2)).toBeUndefined();
    // The holder's instance dies: its renewals stop, its lease lapses; the living one's does not.
    holder.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 450));
    const taken = await other.acquireSlot('v', 2);
    expect(taken).toBeDefined();
    expect(await other.acquireSlot('v', 2)).toBeUndefined();
    await kept!.release();
    await taken!.release();
  });
});
