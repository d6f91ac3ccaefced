/** Upper bounds (seconds) of the upstream latency histogram's buckets. */
const latencyBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Counters and gauges of one Airlock instance, rendered in Prometheus'
 * text format at `GET {basePath}/metrics` (admin token required). Labels
 * are bounded sets (route patterns, status codes, error codes), never ids,
 * so the series count does not grow with traffic.
 *
 * @example
 * ```ts
 * const metrics = new Metrics();
 * metrics.recordRequest('/v1/chat/completions', 'POST', 200);
 * metrics.render(); // '# HELP airlock_http_requests_total …'
 * ```
 */
export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #errors = new Map<string, number>();
  readonly #mints = new Map<string, number>();
  readonly #latencyCounts = latencyBuckets.map(() => 0);
  #latencyCount = 0;
  #latencySum = 0;
  #activeStreams = 0;

  /** Counts one answered request by route pattern, method and status. */
  recordRequest(route: string, method: string, status: number): void {
    increment(this.#requests, `${route}\u0000${method}\u0000${status}`);
  }

  /** Counts one error answered to a client (as a response or as an error event ending a stream). */
  recordError(code: string): void {
    increment(this.#errors, code);
  }

  /** Counts one minted token by how it was minted (`public` or `backend`). */
  recordMint(via: string): void {
    increment(this.#mints, via);
  }

  /** Records the time OpenAI took to answer with headers, in seconds. */
  observeUpstreamLatency(seconds: number): void {
    this.#latencyCount += 1;
    this.#latencySum += seconds;
    for (let index = 0; index < latencyBuckets.length; index += 1) {
      if (seconds <= latencyBuckets[index]!) this.#latencyCounts[index]! += 1;
    }
  }

  /** Counts a stream as open; returns the function that counts it closed (safe to call twice). */
  streamOpened(): () => void {
    this.#activeStreams += 1;
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.#activeStreams -= 1;
    };
  }

  /** Streams open right now. */
  get activeStreams(): number {
    return this.#activeStreams;
  }

  /** Everything, in the Prometheus text exposition format (version 0.0.4). */
  render(): string {
    const lines: string[] = [];
    const family = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

    family('airlock_http_requests_total', 'counter', 'Requests answered, by route pattern, method and status.');
    for (const [key, count] of this.#requests) {
      const [route, method, status] = key.split('\u0000') as [string, string, string];
      lines.push(`airlock_http_requests_total${labels({ route, method, status })} ${count}`);
    }
    family('airlock_errors_total', 'counter', 'Errors answered to clients, by Airlock error code.');
    for (const [code, count] of this.#errors) lines.push(`airlock_errors_total${labels({ code })} ${count}`);
    family('airlock_tokens_minted_total', 'counter', 'Widget tokens minted, by way of minting (public or backend).');
    for (const [via, count] of this.#mints) lines.push(`airlock_tokens_minted_total${labels({ via })} ${count}`);
    family('airlock_active_streams', 'gauge', 'Proxied answers being streamed right now.');
    lines.push(`airlock_active_streams ${this.#activeStreams}`);
    family('airlock_upstream_latency_seconds', 'histogram', 'Time until OpenAI answered with response headers.');
    latencyBuckets.forEach((bound, index) => {
      lines.push(`airlock_upstream_latency_seconds_bucket${labels({ le: String(bound) })} ${this.#latencyCounts[index]}`);
    });
    lines.push(`airlock_upstream_latency_seconds_bucket{le="+Inf"} ${this.#latencyCount}`);
    lines.push(`airlock_upstream_latency_seconds_sum ${this.#latencySum}`, `airlock_upstream_latency_seconds_count ${this.#latencyCount}`);

    const cpu = process.cpuUsage();
    family('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.');
    lines.push(`process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`);
    family('process_resident_memory_bytes', 'gauge', 'Resident memory size, in bytes.');
    lines.push(`process_resident_memory_bytes ${process.memoryUsage.rss()}`);
    return `${lines.join('\n')}\n`;
  }
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function labels(values: Record<string, string>): string {
  const escape = (value: string) => value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
  return `{${Object.entries(values)
    .map(([name, value]) => `${name}="${escape(value)}"`)
    .join(',')}}`;
}

/**
 * The label naming a route in metrics and logs: its path, or for a pattern
 * its path with `:name` for each named group (`/widgets/:id`).
 *
 * @example
 * ```ts
 * routeLabel(/^\/widgets\/(?<id>[^/]+)$/); // '/widgets/:id'
 * ```
 */
export function routeLabel(path: string | RegExp): string {
  if (typeof path === 'string') return path;
  const source = path.source.replace(/^\^/, '').replace(/\$$/, '');
  let label = '';
  for (let index = 0; index < source.length; index += 1) {
    const group = /^\(\?<(\w+)>/.exec(source.slice(index));
    if (!group) {
      label += source[index] === '\\' ? source[++index] : source[index];
      continue;
    }
    // Skip to the group's closing parenthesis (groups may nest).
    let depth = 0;
    for (; index < source.length; index += 1) {
      if (source[index] === '\\') index += 1;
      else if (source[index] === '(') depth += 1;
      else if (source[index] === ')' && --depth === 0) break;
    }
    label += `:${group[1]}`;
  }
  return label;
}
