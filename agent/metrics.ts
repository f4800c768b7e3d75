/**
 * Counters and gauges of one agent. Counts belong here, not in log lines. Keys follow the
 * Prometheus text format (`read_errors{container="C1"}`) so an exporter can print them as they
 * are; every agent has its own instance (a fleet simulator runs thousands in one process).
 */
export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, number>();
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
