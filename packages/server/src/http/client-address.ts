import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';

import type { ServerRequest } from './server-runtime.js';

// The socket address of a request's client, as the adapter that built it set
// it (`ServerRequest.ip`): it cannot be set by a header, so a client cannot spoof it.
function socketAddress(request: Request): string | undefined {
  return (request as ServerRequest).ip;
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
    return entries.length === 0 ? socketAddress(request) : entries[Math.max(0, entries.length - hops)];
  };
}

/**
 * The rate-limit key of a client address: the one place an address becomes a
 * key, so every per-address limit (public minting, the proxy's requests, the
 * admin sign-in throttle) groups clients alike. An IPv4 address is its own
 * key; an IPv6 address counts as its /64 network, since one subscriber is
 * usually given a whole /64 and could otherwise take a fresh address for
 * every request; an IPv4-mapped IPv6 address (`::ffff:203.0.113.9`, what a
 * dual-stack socket reports) is the IPv4 address. Anything else (what a
 * custom `clientAddress` returned) is kept as it is, or hashed when longer
 * than 100 characters. Applying it to a key gives the same key.
 *
 * @example
 * ```ts
 * addressKey('2001:db8:1:2:3:4:5:6'); // '2001:db8:1:2::/64'
 * addressKey('::ffff:203.0.113.9'); // '203.0.113.9'
 * ```
 */
export function addressKey(address: string): string {
  // Asked on every request, mostly for the same few addresses: reading an
  // IPv6 address costs microseconds, a lookup tens of nanoseconds. Bounded by clearing.
  const known = keys.get(address);
  if (known !== undefined) return known;
  const key = computeAddressKey(address);
  if (address.length > 100) return key;
  if (keys.size >= maxKeys) keys.clear();
  keys.set(address, key);
  return key;
}

const keys = new Map<string, string>();
const maxKeys = 10_000;
const dottedQuad = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function computeAddressKey(address: string): string {
  let value = address.trim().toLowerCase();
  if (dottedQuad.test(value)) return value;
  if (value.startsWith('::ffff:') && dottedQuad.test(value.slice(7))) return value.slice(7);
  if (value.startsWith('[') && value.endsWith(']')) value = value.slice(1, -1);
  const zone = value.indexOf('%');
  const groups = ipv6Groups(zone === -1 ? value : value.slice(0, zone));
  if (groups) {
    if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
      const [high, low] = [groups[6]!, groups[7]!];
      return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
    }
    return `${groups
      .slice(0, 4)
      .map((group) => group.toString(16))
      .join(':')}::/64`;
  }
  return value.length <= 100 ? value : `sha256:${createHash('sha256').update(value).digest('hex')}`;
}

// The eight 16-bit groups of an IPv6 address (as node:net defines one:
// `::` for a run of zeros, an IPv4 tail allowed), or `undefined`.
function ipv6Groups(address: string): number[] | undefined {
  if (!isIPv6(address)) return undefined;
  let text = address;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // An IPv4 tail is the last two groups, written in decimal.
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((group) => Number.parseInt(group, 16)) : []);
  const front = parse(head);
  if (tail === undefined) return front;
  const back = parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/**
 * The rate-limit key ({@link addressKey}) of a request's client: from the
 * `clientAddress` option when given, else the socket address Airlock's
 * adapters set (`ServerRequest.ip`); `undefined` when neither knows it.
 *
 * @example
 * ```ts
 * const address = clientAddressKey(request, context.config.clientAddress);
 * if (address) await enforceRateLimit(context.counters, `mint:address:${address}`, 30, 60_000);
 * ```
 */
export function clientAddressKey(request: Request, clientAddress?: (request: Request) => string | undefined): string | undefined {
  const address = clientAddressOf(request, clientAddress);
  return address ? addressKey(address) : undefined;
}

/**
 * A request's client address: from the `clientAddress` option when given,
 * else the socket address Airlock's adapters set; `undefined` when neither knows it.
 *
 * @example
 * ```ts
 * const address = clientAddressOf(request, context.config.clientAddress) ?? 'unknown';
 * ```
 */
export function clientAddressOf(request: Request, clientAddress?: (request: Request) => string | undefined): string | undefined {
  return clientAddress?.(request) ?? socketAddress(request);
}
