/**
 * Whether `origin` (as sent in the `Origin` header) is in `allowed`. Entries
 * are exact origins (`https://example.com`, `http://localhost:8787`) or a
 * wildcard for subdomains (`https://*.example.com`), which matches
 * `https://a.example.com` and `https://a.b.example.com` but neither
 * `https://example.com` itself nor `https://evil-example.com`.
 *
 * @example
 * ```ts
 * isOriginAllowed('https://shop.example.com', ['https://*.example.com']); // true
 * isOriginAllowed('https://example.com.evil.net', ['https://*.example.com']); // false
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

function parseOrigin(value: string): ParsedOrigin | undefined {
  // An origin has no path, query, fragment or credentials; refuse anything else.
  const match = /^(https?):\/\/([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/i.exec(value);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  const port = match[3] ?? (scheme === 'https' ? '443' : '80');
  return { scheme, host: match[2]!.toLowerCase(), port };
}

function matches(origin: ParsedOrigin, entry: string): boolean {
  const wildcard = /^(https?):\/\/\*\.(.+)$/i.exec(entry.trim());
  if (wildcard) {
    const pattern = parseOrigin(`${wildcard[1]}://${wildcard[2]}`);
    if (!pattern || pattern.scheme !== origin.scheme || pattern.port !== origin.port) return false;
    return origin.host.endsWith(`.${pattern.host}`) && origin.host.length > pattern.host.length + 1;
  }
  const exact = parseOrigin(entry.trim());
  return !!exact && exact.scheme === origin.scheme && exact.host === origin.host && exact.port === origin.port;
}

/**
 * Checks an allowed-origin entry when a widget is saved, so typos are caught
 * then rather than as refused visitors later.
 *
 * @example
 * ```ts
 * isValidOriginPattern('https://*.example.com'); // true
 * isValidOriginPattern('https://example.com/'); // false
 * ```
 */
export function isValidOriginPattern(entry: string): boolean {
  const wildcard = /^(https?):\/\/\*\.(.+)$/i.exec(entry);
  return parseOrigin(wildcard ? `${wildcard[1]}://${wildcard[2]}` : entry) !== undefined;
}
