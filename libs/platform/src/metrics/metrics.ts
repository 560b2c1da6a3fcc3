import { Counter, Gauge, Histogram, register, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from 'prom-client';

// Metrics live in prom-client's global registry (what /metrics serves). Several app instances in
// one process (tests) must share one metric per name instead of failing to register it twice.
export function histogram<T extends string>(config: HistogramConfiguration<T>): Histogram<T> {
  return (register.getSingleMetric(config.name) as Histogram<T> | undefined) ?? new Histogram(config);
}

export function counter<T extends string>(config: CounterConfiguration<T>): Counter<T> {
  return (register.getSingleMetric(config.name) as Counter<T> | undefined) ?? new Counter(config);
}

export function gauge<T extends string>(config: GaugeConfiguration<T>): Gauge<T> {
  return (register.getSingleMetric(config.name) as Gauge<T> | undefined) ?? new Gauge(config);
}

export const httpRequestDuration = () =>
  histogram({
    name: 'arbiter_http_request_duration_seconds',
    help: 'HTTP request duration in seconds, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });

/**
 * A counter for the event path, where one event may add to dozens of series (a match per rule):
 * `inc` adds to a plain map keyed by the label values, and the sums reach prom-client's counter
 * when it is read (each scrape of /metrics), instead of hashing and checking the labels on every
 * call. Label values are given in `labelNames` order. One tally per metric name, shared by every
 * caller, like the metric itself.
 */
export class TallyCounter {
  private readonly pending = new Map<string, { labels: Record<string, string>; n: number }>();

  constructor(private readonly labelNames: readonly string[]) {}

  inc(...values: string[]): void {
    const key = values.length === 1 ? values[0] : values.join('\u0000');
    const entry = this.pending.get(key);
    if (entry) {
      entry.n++;
      return;
    }
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, i) => (labels[name] = values[i]));
    this.pending.set(key, { labels, n: 1 });
  }

  /** Moves the sums into `target` (prom-client calls this through the metric's `collect`). */
  flushInto(target: Counter<string>): void {
    for (const entry of this.pending.values()) {
      if (entry.n === 0) continue;
      target.inc(entry.labels, entry.n);
      entry.n = 0;
    }
  }
}

const tallies = new Map<string, TallyCounter>();

export function tallyCounter<T extends string>(config: CounterConfiguration<T>): TallyCounter {
  let tally = tallies.get(config.name);
  if (!tally) {
    const created = new TallyCounter(config.labelNames ?? []);
    const existing = register.getSingleMetric(config.name);
    if (existing) throw new Error(`metric ${config.name} exists as a plain counter: declare it with tallyCounter everywhere`);
    new Counter<T>({
      ...config,
      collect(this: Counter<T>) {
        created.flushInto(this as unknown as Counter<string>);
      },
    });
    tally = created;
    tallies.set(config.name, tally);
  }
  return tally;
}
