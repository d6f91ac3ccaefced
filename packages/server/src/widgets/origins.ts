import { parse as parseDomain } from 'tldts';

/**
 * Whether `origin` (as sent in the `Origin` header) is in `allowed`. Entries
 * are exact origins (`https://example.com`, `http://localhost:8787`) or a
 * wildcard for subdomains (`https://*.example.com`), which matches
 * `https://a.example.com` and `https://a.b.example.com` but neither
 * `https://example.com` itself nor `https://evil-example.com`. An entry that
 * {@link isValidOriginPattern} refuses (a wildcard over a public suffix such
 * as `https://*.co.uk`, a port outside 1 to 65535) matches nothing, even if
 * it was stored before such entries were refused.
 *
 * @example
 * ```ts
 * isOriginAllowed('https://shop.example.com', ['https://*.example.com']); // true
 * isOriginAllowed('https://example.com.evil.net', ['https://*.example.com']); // false
 * isOriginAllowed('https://evil.co.uk', ['https://*.co.uk']); // false: a public suffix
 * ```
 */
export function isOriginAllowed(origin: string | null | undefined, allowed: readonly string[]): boolean {
  if (!origin) return false;
  const parsed = parseOrigin(origin);
  if (!parsed) return false;
  return allowed.some((entry) => matches(parsed, entry));
}

interface ParsedOrigin {
  scheme: string;
  host: string;
  port: string;
}

interface ParsedPattern extends ParsedOrigin {
  wildcard: boolean;
}

// A host is a DNS name (labels of letters, digits and inner hyphens) or a
// bracketed IPv6 address; the port, when written, is checked for its range below.
const originPattern = /^(https?):\/\/((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/i;

const shapeProblem = 'must be an origin such as https://example.com or a wildcard such as https://*.example.com (no path, no trailing slash)';

function parseOrigin(value: string): ParsedOrigin | undefined {
  const read = readOrigin(value);
  return 'problem' in read ? undefined : read;
}

function readOrigin(value: string): ParsedOrigin | { problem: string } {
  // An origin has no path, query, fragment or credentials; refuse anything else
  // (and anything longer than the longest origin, before any pattern runs over it).
  const match = value.length > 300 ? null : originPattern.exec(value);
  if (!match || match[2]!.length > 253) return { problem: shapeProblem };
  const scheme = match[1]!.toLowerCase();
  const written = match[3];
  // Browsers never send a port of 0, one past 65535 or one with a leading zero: such an entry can never match.
  if (written !== undefined && (!/^[1-9]\d*$/.test(written) || Number(written) > 65_535)) return { problem: 'has a port outside 1 to 65535' };
  return { scheme, host: match[2]!.toLowerCase(), port: written ?? (scheme === 'https' ? '443' : '80') };
}

type PatternCheck = { pattern: ParsedPattern; problem?: undefined } | { pattern?: undefined; problem: string };

// Entries are few and repeat on every mint; their checks (a Public Suffix List
// lookup for wildcards) are kept, bounded so that odd inputs cannot grow it.
const checked = new Map<string, PatternCheck>();
const maxChecked = 10_000;

function checkPattern(entry: string): PatternCheck {
  const known = checked.get(entry);
  if (known) return known;
  const result = checkPatternUncached(entry);
  if (entry.length > 300) return result;
  if (checked.size >= maxChecked) checked.clear();
  checked.set(entry, result);
  return result;
}

function checkPatternUncached(entry: string): PatternCheck {
  const wildcard = /^(https?):\/\/\*\.(.+)$/i.exec(entry);
  const origin = readOrigin(wildcard ? `${wildcard[1]}://${wildcard[2]}` : entry);
  if ('problem' in origin) return origin;
  if (!wildcard) return { pattern: { ...origin, wildcard: false } };
  const domain = parseDomain(origin.host, { allowPrivateDomains: true });
  if (domain.isIp || origin.host.startsWith('[')) return { problem: 'is a wildcard over an IP address; a wildcard needs a domain name' };
  // The list's own rules only (ICANN and private, such as github.io): a name no
  // rule covers (`*.localhost`, `*.internal`) is not for sale to strangers.
  if (domain.publicSuffix === origin.host && (domain.isIcann || domain.isPrivate)) {
    return {
      problem: `is a wildcard over the public suffix "${domain.publicSuffix}", which anyone can register names under; use your own domain, such as https://*.example.${domain.publicSuffix}`,
    };
  }
  return { pattern: { ...origin, wildcard: true } };
}

function matches(origin: ParsedOrigin, entry: string): boolean {
  const { pattern } = checkPattern(entry.trim());
  if (!pattern || pattern.scheme !== origin.scheme || pattern.port !== origin.port) return false;
  if (!pattern.wildcard) return pattern.host === origin.host;
  return origin.host.endsWith(`.${pattern.host}`) && origin.host.length > pattern.host.length + 1;
}

/**
 * What is wrong with an allowed-origin entry, as the end of a sentence that
 * names it (`"allowedOrigins[2]" has a port outside 1 to 65535`), or
 * `undefined` when it is fine. Refused: anything but an origin or a
 * subdomain wildcard, ports outside 1 to 65535, wildcards over an IP address,
 * and wildcards over a public suffix of the Public Suffix List (ICANN
 * suffixes such as `com` and `co.uk`, and private ones such as `github.io`),
 * under which anyone may register a name. The message repeats no part of the
 * entry except a suffix taken from the list.
 *
 * @example
 * ```ts
 * originPatternProblem('https://*.example.com'); // undefined
 * originPatternProblem('https://*.co.uk'); // 'is a wildcard over the public suffix "co.uk", …'
 * ```
 */
export function originPatternProblem(entry: string): string | undefined {
  return checkPattern(entry).problem;
}

/**
 * Checks an allowed-origin entry when a widget is saved, so typos are caught
 * then rather than as refused visitors later; {@link originPatternProblem}
 * says why an entry is refused.
 *
 * @example
 * ```ts
 * isValidOriginPattern('https://*.example.com'); // true
 * isValidOriginPattern('https://example.com/'); // false
 * isValidOriginPattern('https://*.com'); // false: a public suffix
 * ```
 */
export function isValidOriginPattern(entry: string): boolean {
  return checkPattern(entry).problem === undefined;
}

/**
 * Whether a value is a web origin as a browser sends it (`https://example.com`,
 * `http://localhost:3000`): never `null`, a path or anything else.
 *
 * @example
 * ```ts
 * isWebOrigin('https://example.com'); // true
 * isWebOrigin('null'); // false
 * ```
 */
export function isWebOrigin(value: string | null | undefined): value is string {
  return typeof value === 'string' && /^https?:\/\/[^/\s]+$/i.test(value);
}
