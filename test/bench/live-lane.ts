import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { LiveRows } from "../../agent/outbox/live-rows.js";
import { Outbox } from "../../agent/outbox/outbox.js";
import { makeReading } from "../support/readings.js";
import type { BenchResult } from "./report.js";

/**
 * A fleet worker's round trip per reading: commit a tick, take it from the live lane, and
 * acknowledge it, over `outboxes` outboxes in turn (a fleet worker's page-cache and statement
 * churn), as CPU µs a reading. The live lane served from the rows just committed (LiveRows)
 * against the same outboxes reading it back with a SELECT, as before, in the same run.
 */
export function benchLiveLane(dir: string, outboxes: number, rounds: number): BenchResult {
  const boxes = Array.from({ length: outboxes }, (_, i) => {
    const folder = join(dir, `live-lane-${outboxes}`, String(i));
    mkdirSync(folder, { recursive: true });
    const box = new Outbox({
      path: join(folder, "outbox.db"),
      maxBytes: 1 << 30,
      durability: "normal",
      now: () => Date.now(),
      cacheKiB: 40,
      reserveKiB: 64,
    });
    box.beginSession();
    return box;
  });
  const reading = [makeReading("C1")];
  const round = () => {
    for (const box of boxes) {
      box.capture(reading);
      box.accept(box.takeLive(10).map((r) => r.id));
    }
  };
  const cpuPerReading = () => {
    for (let i = 0; i < 3; i++) round(); // statements prepared, pages cached
    const began = process.cpuUsage();
    for (let i = 0; i < rounds; i++) round();
    const used = process.cpuUsage(began);
    return (used.user + used.system) / (outboxes * rounds);
  };
  try {
    // Alternated, so that a busy stretch of the machine does not land on one side only.
    const memory: number[] = [];
    const table: number[] = [];
    const after = Object.getOwnPropertyDescriptor(LiveRows.prototype, "after");
    for (let pass = 0; pass < 2; pass++) {
      memory.push(cpuPerReading());
      // The baseline: the cache never answers, so every take reads the table.
      Object.defineProperty(LiveRows.prototype, "after", { value: () => null, configurable: true });
      try {
        table.push(cpuPerReading());
      } finally {
        if (after) Object.defineProperty(LiveRows.prototype, "after", after);
      }
    }
    return {
      name: `live lane round trip (commit, take, acknowledge) over ${outboxes} outboxes`,
      unit: "µs CPU a reading",
      value: Math.min(...memory),
      baselineName: "read back with a SELECT",
      baseline: Math.min(...table),
      target: "cheaper than the SELECT",
      targetRatio: 1,
      lowerIsBetter: true,
      note: "the best of two alternated passes each",
    };
  } finally {
    for (const box of boxes) box.close();
  }
}
