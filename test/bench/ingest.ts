import Database from "better-sqlite3";
import { join } from "node:path";
import { Outbox } from "../../agent/outbox/outbox.js";
import type { UnsequencedReading } from "../../core/record.js";
import { makeReading } from "../support/readings.js";
import type { BenchResult } from "./report.js";

/**
 * Outbox ingest with durable commits (WAL, synchronous=FULL, one transaction a tick, seq
 * assignment and budget accounting included) against raw better-sqlite3 inserts of the same
 * payloads, same batch size, same pragmas, in the same run.
 */
export function benchIngest(dir: string, ticks: number, batch: number): BenchResult {
  const readings: UnsequencedReading[] = Array.from({ length: batch }, (_, i) =>
    makeReading(`C${i}`),
  );

  const outbox = new Outbox({
    path: join(dir, "ingest-outbox.db"),
    maxBytes: 1 << 30,
    durability: "full",
    now: () => Date.now(),
  });
  const agentStart = process.hrtime.bigint();
  for (let t = 0; t < ticks; t++) outbox.capture(readings);
  const agentSeconds = Number(process.hrtime.bigint() - agentStart) / 1e9;
  outbox.close();

  const raw = new Database(join(dir, "ingest-raw.db"));
  raw.pragma("journal_mode = WAL");
  raw.pragma("synchronous = FULL");
  raw.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, container_id TEXT, seq INTEGER, payload TEXT)");
  const insert = raw.prepare("INSERT INTO t (container_id, seq, payload) VALUES (?, ?, ?)");
  const tick = raw.transaction((seq: number) => {
    for (const r of readings) insert.run(r.container_id, seq, JSON.stringify({ ...r, seq }));
  });
  const rawStart = process.hrtime.bigint();
  for (let t = 0; t < ticks; t++) tick(t + 1);
  const rawSeconds = Number(process.hrtime.bigint() - rawStart) / 1e9;
  raw.close();

  const rows = ticks * batch;
  return {
    name: `outbox ingest, durable (${ticks} commits of ${batch})`,
    unit: "readings/s",
    value: rows / agentSeconds,
    baselineName: "raw better-sqlite3 inserts",
    baseline: rows / rawSeconds,
    target: "≥ 0.5× raw",
    targetRatio: 0.5,
  };
}
