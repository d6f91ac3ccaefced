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
