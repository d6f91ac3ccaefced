import { readsRuntimeParts } from '../http/server-runtime.js';
import type { FetchHandler } from './node.js';

/**
 * What an adapter mounts: a running Airlock (answers only below its
 * `basePath` and leaves other paths to the framework), or any Web-standard
 * handler such as `airlock.tokenHandler(…)` (answers everything it is given).
 */
export type Mountable = FetchHandler | { fetch: FetchHandler; basePath: string };

/** The handler of a mountable, and whether it answers a given path. */
export function resolveMountable(target: Mountable): { handler: FetchHandler; handles(path: string): boolean } {
  if (typeof target === 'function') return { handler: target, handles: () => true };
  const { basePath } = target;
  // The wrapper keeps the handler's mark, so Airlock still gets light Requests.
  return {
    handler: Object.assign((request: Request) => target.fetch(request), { readsRuntimeParts: readsRuntimeParts(target.fetch) }),
    handles: (path) => path.startsWith(`${basePath}/`),
  };
}
