import { parseArgs } from 'node:util';
import { announceSigningKeysChanged, resolveRedisOptions } from '../../cluster/redis.js';
import { loadUsableWidget } from '../../tokens/public-minting.js';
import { SigningKeys } from '../../tokens/signing-keys.js';
import { parseTokenLimits, TokenService } from '../../tokens/token-service.js';
import { newId } from '../../ids.js';
import { openStoreFromEnvironment, openVaultFromEnvironment, UsageError } from '../shared.js';

/**
 * With AIRLOCK_REDIS_URL, tells every running server to re-read the signing
 * keys now; answers whether that was done. A Redis that cannot be reached is
 * reported, not fatal: servers re-read the keys every minute anyway.
 */
async function announce(): Promise<boolean> {
  const redis = resolveRedisOptions();
  if (!redis) return false;
  try {
    await announceSigningKeysChanged(redis);
    return true;
  } catch (error) {
    process.stderr.write(`airlock: could not reach Redis to announce the change (${(error as Error).message}).\n`);
    return false;
  }
}

/** `airlock tokens rotate-signing-key [--retire-previous-now] | mint --widget ID [--user ID]` */
export async function runTokens(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      dev: { type: 'boolean', default: false },
      'retire-previous-now': { type: 'boolean', default: false },
      widget: { type: 'string' },
      user: { type: 'string' },
      origin: { type: 'string' },
      ttl: { type: 'string' },
      'max-requests': { type: 'string' },
      'max-output-tokens': { type: 'string' },
      issuer: { type: 'string', default: 'airlock' },
    },
  });
  if (action !== 'rotate-signing-key' && action !== 'mint') {
    throw new UsageError(`unknown tokens action "${action ?? ''}"; use rotate-signing-key or mint.`);
  }
  const store = openStoreFromEnvironment();
  try {
    const vault = openVaultFromEnvironment({ dev: values.dev });
    await store.migrate();
    const keys = await SigningKeys.load(store, vault);
    if (action === 'rotate-signing-key') {
      const { kid, retiring } = await keys.rotate({ retirePrevious: values['retire-previous-now'] });
      const within = (await announce()) ? 'at once' : 'within a minute';
      console.log(`new signing key ${kid}; running servers pick it up ${within}.`);
      if (values['retire-previous-now']) console.log(`older keys removed: tokens they signed stop ${within}.`);
      for (const key of retiring) console.log(`${key.kid} keeps verifying tokens until ${key.acceptedUntil}`);
      return 0;
    }
    if (!values.widget) throw new UsageError('--widget is required.');
    const number = (value: string | undefined, flag: string) => {
      if (value === undefined) return undefined;
      const parsed = Number(value);
      if (!Number.isInteger(parsed)) throw new UsageError(`${flag} must be a whole number.`);
      return parsed;
    };
    const widget = await loadUsableWidget(store, values.widget);
    const tokens = new TokenService({ keys, issuer: values.issuer });
    const { token, expiresAt } = await tokens.mint({
      widgetId: widget.id,
      subject: values.user ?? newId('usr'),
      epoch: widget.epoch,
      origin: values.origin,
      ttlSeconds: number(values.ttl, '--ttl'),
      limits: parseTokenLimits({ requests: number(values['max-requests'], '--max-requests'), outputTokens: number(values['max-output-tokens'], '--max-output-tokens') }),
    });
    console.log(token);
    process.stderr.write(`expires ${new Date(expiresAt).toISOString()}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
