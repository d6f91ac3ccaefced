import { defaultAllowanceOf } from '../../keys/shared-key-policy.js';
import { act, CliCommand, runCommand, UsageError, withStore, type Outcome } from '../shared.js';

const dayPattern = /^\d{4}-\d{2}-\d{2}$/;

/** The default allowance as `airlock serve` reads it from `AIRLOCK_DEFAULT_GENERATION_ALLOWANCE`. */
function defaultAllowanceFromEnvironment(): number | null {
  const raw = process.env.AIRLOCK_DEFAULT_GENERATION_ALLOWANCE;
  const given = raw === undefined || raw === '' ? undefined : raw === 'unlimited' ? null : Number(raw);
  return defaultAllowanceOf({ defaultGenerationAllowance: given === null || Number.isInteger(given) ? given : undefined });
}

function day(value: string | undefined, fallback: string, flag: string): string {
  if (value === undefined) return fallback;
  if (!dayPattern.test(value)) throw new UsageError(`${flag} must be a date such as 2026-11-27.`);
  return value;
}

interface UsageFlags {
  widget?: string;
  account?: string;
  from?: string;
  to?: string;
  allowance?: string;
  reset?: boolean;
  json?: boolean;
}

/**
 * `airlock usage --widget ID [--from DAY] [--to DAY] [--json]`: a widget's
 * usage per UTC day (default the last 30 days).
 * `airlock usage --account ID [--allowance N|unlimited] [--reset]`: shows or
 * sets an account's generation allowance.
 *
 * @example
 * ```ts
 * program.addCommand(usageCommand(outcome));
 * ```
 */
export function usageCommand(outcome: Outcome): CliCommand {
  return new CliCommand('usage')
    .description("a widget's usage per day (views, requests, tokens, generations, errors), or an account's generation allowance")
    .option('--widget <id>', 'the widget whose usage to show')
    .option('--from <day>', 'first UTC day, YYYY-MM-DD (default: 29 days ago)')
    .option('--to <day>', 'last UTC day, YYYY-MM-DD (default: today)')
    .option('--account <id>', 'the account whose generation allowance to show or set (shared-key use)')
    .option('--allowance <n>', 'set the allowance: a whole number of generations, or "unlimited"')
    .option('--reset', 'set the used count back to 0')
    .option('--json', 'print JSON')
    .action(act(outcome, showUsage));
}

/** Runs `airlock usage …` in this process; answers the exit code. */
export function runUsage(args: string[]): Promise<number> {
  return runCommand(usageCommand, args);
}

async function showUsage(values: UsageFlags): Promise<number> {
  if (!values.widget === !values.account) throw new UsageError('give either --widget ID or --account ID.');
  return withStore(async (store) => {
    if (values.account) {
      let balance = await store.getGenerationBalance(values.account);
      // An account without an allowance of its own has the server's default (never read as unlimited: a --reset must not lift it).
      const current = balance?.allowance === undefined ? defaultAllowanceFromEnvironment() : balance.allowance;
      if (values.allowance !== undefined || values.reset) {
        const raw = values.allowance;
        const allowance = raw === undefined ? current : raw === 'unlimited' ? null : raw.trim() === '' ? Number.NaN : Number(raw);
        if (allowance !== null && (!Number.isInteger(allowance) || allowance < 0)) {
          throw new UsageError('--allowance must be a whole number of generations, or "unlimited".');
        }
        balance = await store.setGenerationAllowance(values.account, allowance, { resetUsed: values.reset ?? false });
      }
      const shown = balance ?? { accountId: values.account, allowance: current, used: 0 };
      if (values.json) console.log(JSON.stringify(shown));
      else console.log(`${shown.accountId}\tallowance ${shown.allowance ?? 'unlimited'}\tused ${shown.used}`);
      return 0;
    }
    const widgetId = values.widget!;
    if (!(await store.getWidget(widgetId))) throw new UsageError(`there is no widget "${widgetId}".`);
    const today = new Date().toISOString().slice(0, 10);
    const from = day(values.from, new Date(Date.now() - 29 * 86_400_000).toISOString().slice(0, 10), '--from');
    const to = day(values.to, today, '--to');
    const days = await store.listUsage(widgetId, from, to);
    const { sumUsage } = await import('../../admin/usage-routes.js');
    const total = sumUsage(days);
    if (values.json) {
      console.log(JSON.stringify({ widgetId, from, to, days, total }));
      return 0;
    }
    const errors = (counts: Record<string, number>) =>
      Object.entries(counts)
        .map(([code, count]) => `${code}=${count}`)
        .join(' ') || '-';
    console.log(['day', 'views', 'requests', 'input tokens', 'output tokens', 'generations', 'errors'].join('\t'));
    for (const entry of days) {
      console.log([entry.day, entry.views, entry.requests, entry.inputTokens, entry.outputTokens, entry.generations, errors(entry.errors)].join('\t'));
    }
    console.log(['total', total.views, total.requests, total.inputTokens, total.outputTokens, total.generations, errors(total.errors)].join('\t'));
    return 0;
  });
}
