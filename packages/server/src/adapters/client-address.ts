// The network address of the client that sent a request. A Web `Request`
// has no such field, so Airlock's adapters record the socket's address here,
// keyed by the Request object itself: it cannot be set by a header, so a
// client cannot spoof it.
const addresses = new WeakMap<Request, string>();

/**
 * Records the socket address of a request's client (done by Airlock's
 * adapters; call it yourself if you build Requests in your own glue).
 *
 * @example
 * ```ts
 * recordClientAddress(request, incoming.socket.remoteAddress);
 * ```
 */
export function recordClientAddress(request: Request, address: string | undefined): void {
  if (address) addresses.set(request, address);
}

/**
 * The address recorded by {@link recordClientAddress}, if any.
 *
 * @example
 * ```ts
 * const address = recordedClientAddress(request) ?? 'unknown';
 * ```
 */
export function recordedClientAddress(request: Request): string | undefined {
  return addresses.get(request);
}

/**
 * A `clientAddress` option for servers behind `hops` reverse proxies or load
 * balancers that each append to `X-Forwarded-For`: the address the outermost
 * trusted proxy saw. Entries further left were written by the client and are
 * ignored, so a client cannot choose its own address. Without the header it
 * falls back to the socket address.
 *
 * @example
 * ```ts
 * createAirlock({ clientAddress: forwardedClientAddress(1) }); // one load balancer in front
 * ```
 */
export function forwardedClientAddress(hops: number): (request: Request) => string | undefined {
  if (!Number.isInteger(hops) || hops < 1) throw new RangeError('hops must be a whole number of at least 1.');
  return (request) => {
    const entries = (request.headers.get('x-forwarded-for') ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    // The last `hops` entries were added by our proxies; the first of them names the client.
    return entries.length === 0 ? recordedClientAddress(request) : entries[Math.max(0, entries.length - hops)];
  };
}
