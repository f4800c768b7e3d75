/**
 * Counters and gauges of one agent. Counts belong here, not in log lines. Keys follow the
 * Prometheus text format (`read_errors{container="C1"}`) so an exporter can print them as they
 * are; every agent has its own instance (a fleet simulator runs thousands in one process).
 */
/** Upper bounds of the latency histograms, seconds (a PUBACK over a satellite link takes seconds). */
export const LATENCY_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;

/** One histogram: counts per bucket of LATENCY_BUCKETS (not cumulative), their sum and count. */
export interface HistogramState {
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, number>();
  private readonly histograms = new Map<string, HistogramState>();
  /**
   * Keys already built for a frozen labels object: a hot path that keeps its labels frozen (the
   * Modbus bus, per request) gets its key built once; fresh objects are not cached.
   */
  private readonly keys = new WeakMap<object, Map<string, string>>();

  increment(name: string, by = 1, labels?: Readonly<Record<string, string>>): void {
    const key = this.keyOf(name, labels);
    this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  set(name: string, value: number, labels?: Readonly<Record<string, string>>): void {
    this.gauges.set(this.keyOf(name, labels), value);
  }

  /** Records one observation (seconds) in a latency histogram. */
  observe(name: string, seconds: number): void {
    let h = this.histograms.get(name);
    if (!h) {
      h = { counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.histograms.set(name, h);
    }
    const bucket = LATENCY_BUCKETS.findIndex((bound) => seconds <= bound);
    if (bucket >= 0) h.counts[bucket] = (h.counts[bucket] ?? 0) + 1;
    h.sum += seconds;
    h.count++;
  }

  /** Every counter, gauge and histogram, keyed as `name` or `name{labels}`, for an exporter. */
  entries(): {
    counters: ReadonlyMap<string, number>;
    gauges: ReadonlyMap<string, number>;
    histograms: ReadonlyMap<string, HistogramState>;
  } {
    return { counters: this.counters, gauges: this.gauges, histograms: this.histograms };
  }

  /** The value of one counter or gauge; 0 when never touched. */
  get(name: string, labels?: Readonly<Record<string, string>>): number {
    const key = metricKey(name, labels);
    return this.counters.get(key) ?? this.gauges.get(key) ?? 0;
  }

  /** Sum of a counter over all its label sets. */
  total(name: string): number {
    let sum = 0;
    for (const [key, value] of this.counters) {
      if (key === name || key.startsWith(`${name}{`)) sum += value;
    }
    return sum;
  }

  private keyOf(name: string, labels?: Readonly<Record<string, string>>): string {
    if (!labels) return name;
    if (!Object.isFrozen(labels)) return metricKey(name, labels);
    let byName = this.keys.get(labels);
    if (!byName) {
      byName = new Map();
      this.keys.set(labels, byName);
    }
    let key = byName.get(name);
    if (key === undefined) {
      key = metricKey(name, labels);
      byName.set(name, key);
    }
    return key;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(
      [...this.counters, ...this.gauges].sort(([a], [b]) => a.localeCompare(b)),
    );
  }
}

function metricKey(name: string, labels?: Readonly<Record<string, string>>): string {
  if (!labels) return name;
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`);
  return parts.length === 0 ? name : `${name}{${parts.join(",")}}`;
}
