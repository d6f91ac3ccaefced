import type { AirlockContext } from '../context.js';
import { AirlockError } from '../errors.js';
import { json, readJsonObject } from '../http/responses.js';
import type { Route } from '../http/router.js';
import type { UsageDay } from '../stores/store.js';
import { defaultAllowanceOf } from '../keys/shared-key-policy.js';
import { assertAccountAccess, requireAdmin } from './auth.js';

const dayPattern = /^\d{4}-\d{2}-\d{2}$/;
const maxRangeDays = 366;

function parseDay(value: string | null, fallback: string, name: string): string {
  if (value === null || value === '') return fallback;
  if (!dayPattern.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new AirlockError('input_invalid', `"${name}" must be a date such as 2026-11-27.`);
  }
  return value;
}

/**
 * Sums usage days into one total (errors summed by code).
 *
 * @example
 * ```ts
 * const total = sumUsage(days); // { views, requests, inputTokens, outputTokens, generations, errors }
 * ```
 */
export function sumUsage(days: readonly UsageDay[]): Omit<UsageDay, 'day'> {
  const total = { views: 0, requests: 0, inputTokens: 0, outputTokens: 0, generations: 0, errors: {} as Record<string, number> };
  for (const day of days) {
    total.views += day.views;
    total.requests += day.requests;
    total.inputTokens += day.inputTokens;
    total.outputTokens += day.outputTokens;
    total.generations += day.generations;
    for (const [code, count] of Object.entries(day.errors)) total.errors[code] = (total.errors[code] ?? 0) + count;
  }
  return total;
}

function balanceBody(balance: { accountId: string; allowance: number | null; used: number }) {
  return { ...balance, remaining: balance.allowance === null ? null : Math.max(0, balance.allowance - balance.used) };
}

/**
 * Admin API for usage and generation allowances (operator bearer token):
 * - `GET /admin/widgets/:id/usage?from=YYYY-MM-DD&to=YYYY-MM-DD` (UTC days, inclusive;
 *   default the last 30 days) → `{ widgetId, from, to, days: [...], total }`;
 * - `GET /admin/accounts/:id/generations` → `{ accountId, allowance, used, remaining }`;
 * - `PUT /admin/accounts/:id/generations` with `{ "allowance": 500 | null, "resetUsed": true }`.
 *
 * @example
 * ```ts
 * const routes = [...usageAdminRoutes(context)];
 * ```
 */
export function usageAdminRoutes(context: AirlockContext): Route[] {
  const accountPath = /^\/admin\/accounts\/(?<id>[A-Za-z0-9_-]{1,100})\/generations$/;
  return [
    {
      method: 'GET',
      path: /^\/admin\/widgets\/(?<id>[A-Za-z0-9_-]{1,100})\/usage$/,
      browser: 'none',
      async handle(request, params) {
        const principal = requireAdmin(context, request, { accountOwners: true });
        await context.started();
        const widget = await context.store.getWidget(params.id!);
        if (!widget) throw new AirlockError('widget_not_found', 'There is no such widget.');
        assertAccountAccess(principal, widget.accountId);
        const url = new URL(request.url);
        const today = context.now().toISOString().slice(0, 10);
        const monthAgo = new Date(context.now().getTime() - 29 * 86_400_000).toISOString().slice(0, 10);
        const from = parseDay(url.searchParams.get('from'), monthAgo, 'from');
        const to = parseDay(url.searchParams.get('to'), today, 'to');
        const span = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000;
        if (span < 0) throw new AirlockError('input_invalid', '"from" must not be after "to".');
        if (span >= maxRangeDays) throw new AirlockError('input_invalid', `At most ${maxRangeDays} days can be asked for at once.`);
        const days = await context.usage.list(widget.id, from, to);
        return json({ widgetId: widget.id, from, to, days, total: sumUsage(days) });
      },
    },
    {
      method: 'GET',
      path: accountPath,
      browser: 'none',
      async handle(request, params) {
        assertAccountAccess(requireAdmin(context, request, { accountOwners: true }), params.id!);
        await context.started();
        // Generations of unlimited accounts are written with the usage counts.
        await context.usage.flush();
        const balance = await context.store.getGenerationBalance(params.id!);
        const fallback = defaultAllowanceOf(context.config.proxy);
        return json(balanceBody(balance ?? { accountId: params.id!, allowance: fallback, used: 0 }));
      },
    },
    {
      method: 'PUT',
      path: accountPath,
      browser: 'none',
      async handle(request, params) {
        requireAdmin(context, request);
        await context.started();
        const body = await readJsonObject(request, 4 * 1024);
        const { allowance, resetUsed } = body;
        if (allowance !== null && (typeof allowance !== 'number' || !Number.isInteger(allowance) || allowance < 0 || allowance > 1e12)) {
          throw new AirlockError('input_invalid', '"allowance" must be a whole number of generations, or null for unlimited.');
        }
        if (resetUsed !== undefined && typeof resetUsed !== 'boolean') throw new AirlockError('input_invalid', '"resetUsed" must be true or false.');
        // Spent generations still in memory belong to the period before a reset.
        await context.usage.flush();
        const balance = await context.store.setGenerationAllowance(params.id!, allowance, { resetUsed: resetUsed === true });
        return json(balanceBody(balance));
      },
    },
  ];
}
