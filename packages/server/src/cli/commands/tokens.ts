import type { Store } from '../../stores/store.js';
import type { SigningKeys } from '../../tokens/signing-keys.js';
import { act, CliCommand, openVaultFromEnvironment, printJson, required, runCommand, wholeNumberFlag, withStore, type Outcome } from '../shared.js';

/**
 * With AIRLOCK_REDIS_URL, tells every running server to re-read the signing
 * keys now; answers whether that was done. A Redis that cannot be reached is
 * reported, not fatal: servers re-read the keys every minute anyway.
 */
async function announce(): Promise<boolean> {
  const { announceSigningKeysChanged, resolveRedisOptions } = await import('../../cluster/redis.js');
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

interface TokenFlags {
  dev?: boolean;
  retirePreviousNow?: boolean;
  widget?: string;
  user?: string;
  origin?: string;
  ttl?: string;
  maxRequests?: string;
  maxOutputTokens?: string;
  issuer: string;
  json?: boolean;
}

async function withSigningKeys(flags: { dev?: boolean }, run: (keys: SigningKeys, store: Store) => Promise<number>): Promise<number> {
  const vault = await openVaultFromEnvironment({ dev: flags.dev });
  const { SigningKeys } = await import('../../tokens/signing-keys.js');
  return withStore(async (store) => run(await SigningKeys.load(store, vault), store));
}

/**
 * `airlock tokens rotate-signing-key [--retire-previous-now] | mint --widget ID [--user ID]`.
 *
 * @example
 * ```ts
 * program.addCommand(tokensCommand(outcome));
 * ```
 */
export function tokensCommand(outcome: Outcome): CliCommand {
  const tokens = new CliCommand('tokens').description('token signing keys, and tokens minted by hand');
  const devFlag = 'use the development master key in .airlock/ when AIRLOCK_MASTER_KEYS is not set';

  tokens
    .command('rotate-signing-key')
    .description('add a new token signing key; the old one verifies until its tokens expire')
    .option('--retire-previous-now', 'for a leaked key: remove older keys at once, so the tokens they signed stop')
    .option('--dev', devFlag)
    .action(
      act(outcome, (flags: { dev?: boolean; retirePreviousNow?: boolean }) =>
        withSigningKeys(flags, async (keys) => {
          const { kid, retiring } = await keys.rotate({ retirePrevious: flags.retirePreviousNow ?? false });
          const within = (await announce()) ? 'at once' : 'within a minute';
          console.log(`new signing key ${kid}; running servers pick it up ${within}.`);
          if (flags.retirePreviousNow) console.log(`older keys removed: tokens they signed stop ${within}.`);
          for (const key of retiring) console.log(`${key.kid} keeps verifying tokens until ${key.acceptedUntil}`);
          return 0;
        }),
      ),
    );

  tokens
    .command('mint')
    .description('print a token for a widget (backend minting, for tests and scripts)')
    .option('--widget <id>', 'the widget (required)')
    .option('--user <id>', 'the subject, your user id (default: a new random id)')
    .option('--origin <origin>', 'the origin the token is bound to')
    .option('--ttl <seconds>', 'lifetime in seconds (default 600)')
    .option('--max-requests <n>', 'requests the token allows at most')
    .option('--max-output-tokens <n>', 'output tokens the token allows at most')
    .option('--issuer <issuer>', 'the token issuer', 'airlock')
    .option('--dev', devFlag)
    .option('--json', 'print the token and its expiry as JSON')
    .action(
      act(outcome, (flags: TokenFlags) =>
        withSigningKeys(flags, async (keys, store) => {
          const ttlSeconds = wholeNumberFlag(flags.ttl, '--ttl', 1);
          const requests = wholeNumberFlag(flags.maxRequests, '--max-requests', 1);
          const outputTokens = wholeNumberFlag(flags.maxOutputTokens, '--max-output-tokens', 1);
          const [{ loadUsableWidget }, { parseTokenLimits, TokenService }, { newId }] = await Promise.all([
            import('../../tokens/public-minting.js'),
            import('../../tokens/token-service.js'),
            import('../../ids.js'),
          ]);
          const widget = await loadUsableWidget(store, required(flags.widget, '--widget'));
          const service = new TokenService({ keys, issuer: flags.issuer });
          const { token, expiresAt } = await service.mint({
            widgetId: widget.id,
            subject: flags.user ?? newId('usr'),
            epoch: widget.epoch,
            origin: flags.origin,
            ttlSeconds,
            limits: parseTokenLimits({ requests, outputTokens }),
          });
          if (flags.json) {
            printJson({ token, expiresAt: new Date(expiresAt).toISOString() });
            return 0;
          }
          console.log(token);
          process.stderr.write(`expires ${new Date(expiresAt).toISOString()}\n`);
          return 0;
        }),
      ),
    );

  return tokens;
}

/** Runs `airlock tokens …` in this process; answers the exit code. */
export function runTokens(args: string[]): Promise<number> {
  return runCommand(tokensCommand, args);
}
