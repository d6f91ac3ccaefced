import { requireAdmin } from '../admin/auth.js';
import type { AirlockContext } from '../context.js';
import { json } from '../http/responses.js';
import type { Route } from '../http/router.js';

/** How long one readiness check may take before it counts as failed. */
const checkTimeoutMs = 2_000;

/**
 * What a readiness check found for one dependency.
 */
export interface ReadinessCheck {
  name: string;
  ok: boolean;
}

async function check(name: string, probe: () => Promise<void>): Promise<ReadinessCheck> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), checkTimeoutMs);
  });
  try {
    await Promise.race([probe(), timeout]);
    return { name, ok: true };
  } catch {
    return { name, ok: false };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Operations endpoints for load balancers and monitoring:
 * - `GET /healthz`: the process is alive (200 whenever it can answer);
 * - `GET /readyz`: this instance should get traffic: 200 when the store (and
 *   Redis, when configured) answer and it is not shutting down, else 503
 *   with which check failed (names only, never connection details);
 * - `GET /metrics`: Prometheus text format, admin token required.
 *
 * @example
 * ```ts
 * const routes = operationsRoutes(context);
 * ```
 */
export function operationsRoutes(context: AirlockContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      browser: 'none',
      handle: async () => json({ status: 'ok' }),
    },
    {
      method: 'GET',
      path: '/readyz',
      browser: 'none',
      handle: async () => {
        const checks = await Promise.all([
          check('store', async () => {
            await context.started();
            await context.store.ping();
          }),
          ...context.readinessProbes.map((probe) => check(probe.name, probe.ping)),
        ]);
        if (context.lifecycle.draining) checks.push({ name: 'accepting', ok: false });
        const ready = checks.every((result) => result.ok);
        return json(
          { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(checks.map((result) => [result.name, result.ok ? 'ok' : 'failing'])) },
          { status: ready ? 200 : 503 },
        );
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      browser: 'none',
      handle: async (request) => {
        requireAdmin(context, request);
        return new Response(context.metrics.render(), {
          headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' },
        });
      },
    },
  ];
}
