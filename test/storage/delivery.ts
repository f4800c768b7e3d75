import type { ReeferReading } from "../../core/record.js";

/** What a gateway's readings at the broker show: gaps, conflicts and each container's last seq. */
export interface Delivery {
  /** Seq ranges never delivered, per container ("C01 5-7"), counted from 1 (or `from`). */
  readonly missing: string[];
  /** (container_id, seq) delivered with two different readings. */
  readonly conflicts: string[];
  readonly lastSeq: ReadonlyMap<string, number>;
  readonly distinct: number;
}

/**
 * Checks a gateway's delivered readings as an auditor would: per container, every seq from the
 * first to the last, and each seq always the same reading (duplicates are at-least-once's due).
 */
export function checkDelivery(
  readings: readonly { reading: ReeferReading }[],
  gatewayId: string,
  from: ReadonlyMap<string, number> = new Map(),
): Delivery {
  const byKey = new Map<string, string>();
  const conflicts = new Set<string>();
  const seqs = new Map<string, Set<number>>();
  for (const { reading } of readings) {
    if (reading.gateway_id !== gatewayId) continue;
    const key = `${reading.container_id}#${reading.seq}`;
    const body = JSON.stringify(reading);
    const before = byKey.get(key);
    if (before !== undefined && before !== body) conflicts.add(key);
    byKey.set(key, body);
    const set = seqs.get(reading.container_id) ?? new Set<number>();
    set.add(reading.seq);
    seqs.set(reading.container_id, set);
  }
  const missing: string[] = [];
  const lastSeq = new Map<string, number>();
  for (const [container, set] of seqs) {
    const last = Math.max(...set);
    lastSeq.set(container, last);
    let gapFrom: number | null = null;
    for (let seq = from.get(container) ?? 1; seq <= last + 1; seq++) {
      const absent = seq <= last && !set.has(seq);
      if (absent && gapFrom === null) gapFrom = seq;
      if (!absent && gapFrom !== null) {
        missing.push(`${container} ${gapFrom}-${seq - 1}`);
        gapFrom = null;
      }
    }
  }
  return { missing, conflicts: [...conflicts], lastSeq, distinct: byKey.size };
}
