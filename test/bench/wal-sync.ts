import { closeSync, fdatasyncSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Outbox } from "../../agent/outbox/outbox.js";
import type { UnsequencedReading } from "../../core/record.js";
import { makeReading } from "../support/readings.js";
import type { BenchResult } from "./report.js";

/**
 * The WAL sync's latency as the agent records it (reefer_edge_wal_sync_seconds): an outbox
 * syncing in the background, one tick of 4 readings at a time, each waited for until durable;
 * against a bare fdatasync after a write of the same size to a file on the same disk, in the
 * same run. The 99th percentile is what shows a slowing card first.
 */
export async function benchWalSync(dir: string, ticks: number): Promise<BenchResult[]> {
  const readings: UnsequencedReading[] = Array.from({ length: 4 }, (_, i) => makeReading(`C${i}`));
  const timed: number[] = [];
  const outbox = new Outbox({
    path: join(dir, "wal-sync-outbox.db"),
    maxBytes: 1 << 30,
    durability: "full",
    backgroundSync: true,
    now: () => Date.now(),
    onSyncTimed: (seconds) => timed.push(seconds),
  });
  for (let t = 0; t < ticks; t++) {
    outbox.capture(readings);
    await outbox.synced();
  }
  outbox.close();

  const bare: number[] = [];
  const fd = openSync(join(dir, "wal-sync-bare"), "w");
  const page = Buffer.alloc(4096 * 2, 1); // a tick's WAL frames: about two pages
  try {
    for (let t = 0; t < ticks; t++) {
      writeSync(fd, page);
      const began = performance.now();
      fdatasyncSync(fd);
      bare.push((performance.now() - began) / 1000);
    }
  } finally {
    closeSync(fd);
  }
  const ms = (values: number[], q: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 1000;
  };
  return [0.5, 0.99].map((q) => ({
    name: `WAL sync latency, p${q * 100} (${timed.length} syncs)`,
    unit: "ms",
    value: ms(timed, q),
    baselineName: "bare fdatasync of the same size",
    baseline: ms(bare, q),
    target: "recorded (a slow disk shows here)",
    lowerIsBetter: true,
  }));
}
