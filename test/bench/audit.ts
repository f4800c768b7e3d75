import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";

import { parseVerifierKey } from "../../core/audit/checkpoint.js";
import { leafBytes } from "../../core/audit/leaf.js";
import { CompactRange, leafHash } from "../../core/audit/merkle.js";
import { verifyLog } from "../../core/audit/verify-log.js";
import { makeVoyage } from "../support/audit-voyage.js";
import type { BenchResult } from "./report.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Outbox } from "../../agent/outbox/outbox.js";
import { makeReading } from "../support/readings.js";

/**
 * The audit log's costs (docs/audit-log.md): a 30-day voyage at one reading a minute (43,200
 * readings, some delivered twice, in any order, with a signed checkpoint after every reading, a
 * gateway's worst case) verified on one core, against a bare SHA-256 over the same JSON in the same
 * run; and what the log adds to each reading on the gateway: its canonical form, its leaf hash and
 * the compact range's append, against serializing the reading as the outbox does.
 */
export function benchAudit(days: number): BenchResult[] {
  const voyage = makeVoyage({
    seed: 30,
    days,
    intervalMinutes: 1,
    containers: 1,
    checkpointEvery: 1,
  });
  const verifier = parseVerifierKey(voyage.vkey);
  // Fresh objects (not frozen): the verifier keeps no hash of them, as for a lake read from disk.
  const records = voyage.records.map((r) => ({ ...r }));
  const began = performance.now();
  const verdict = verifyLog(voyage.origin, records, voyage.checkpoints, verifier);
  const verifyMs = performance.now() - began;
  if (verdict.verifiedSize !== voyage.leaves || verdict.missing.length > 0 || verdict.altered)
    throw new Error(`the bench's clean voyage did not verify: ${JSON.stringify(verdict)}`);

  const hashBegan = performance.now();
  for (const r of records) createHash("sha256").update(JSON.stringify(r)).digest();
  const hashMs = performance.now() - hashBegan;

  // On the gateway, per reading: canonical bytes, leaf hash, append (and a root per checkpoint).
  const range = CompactRange.empty();
  const appendBegan = performance.now();
  for (const r of records) range.append(leafHash(leafBytes(r)));
  const appendUs = ((performance.now() - appendBegan) * 1000) / records.length;
  const stringifyBegan = performance.now();
  for (const r of records) JSON.stringify(r);
  const stringifyUs = ((performance.now() - stringifyBegan) * 1000) / records.length;
  const indexBytes = Buffer.byteLength(`,"log_index":${voyage.leaves}`);

  const capture = benchCapture();
  return [
    capture,
    {
      name: `audit verify, ${days}-day voyage (${voyage.leaves} readings, ${records.length} records, ${voyage.checkpoints.length} checkpoints)`,
      unit: "ms",
      value: verifyMs,
      baselineName: "SHA-256 of the same JSON",
      baseline: hashMs,
      target: "≤ 2,000 ms on one core",
      targetValue: 2000,
      lowerIsBetter: true,
    },
    {
      name: "audit log per reading on the gateway (JCS, leaf hash, append)",
      unit: "µs",
      value: appendUs,
      baselineName: "JSON.stringify of the reading",
      baseline: stringifyUs,
      target: "recorded (the capture's CPU is in the ingest line)",
      lowerIsBetter: true,
      note: `the log adds ${indexBytes} bytes to a reading (its log_index) and a stored range of ${range.encode().length} bytes per outbox`,
    },
  ];
}

/**
 * The log's share of a gateway's capture: ticks of 4 readings committed into a real outbox on
 * the disk (full durability, the WAL synced in the background, as the agent runs it), with the
 * log and without, in alternating blocks so that a busy machine weighs on both alike.
 */
const BLOCKS = 40;

function benchCapture(): BenchResult {
  const dir = mkdtempSync(join(tmpdir(), "bench-audit-"));
  const open = (name: string, audit: boolean) =>
    new Outbox({
      path: join(dir, name, "outbox.db"),
      maxBytes: 1 << 30,
      durability: "full",
      backgroundSync: true,
      now: () => Date.now(),
      ...(audit && { audit: { gatewayId: "gw-bench" } }),
    });
  const logged = open("logged", true);
  const plain = open("plain", false);
  const tick = ["C1", "C2", "C3", "C4"].map((c) => makeReading(c));
  const spent = { logged: 0, plain: 0 };
  let bytes = 0;
  try {
    for (let block = 0; block < BLOCKS; block++) {
      for (const [box, which] of [
        [logged, "logged"],
        [plain, "plain"],
      ] as const) {
        // CPU, not wall time: the target is the capture's CPU, and another process's load
        // would weigh on wall time alone.
        const began = process.cpuUsage();
        for (let i = 0; i < 100; i++) box.capture(tick);
        const used = process.cpuUsage(began);
        spent[which] += (used.user + used.system) / 1000;
      }
    }
    const [withLog] = logged.capture(tick).readings;
    const [without] = plain.capture(tick).readings;
    bytes = Buffer.byteLength(JSON.stringify(withLog)) - Buffer.byteLength(JSON.stringify(without));
  } finally {
    logged.close();
    plain.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const readings = BLOCKS * 100 * tick.length;
  const perReading = (ms: number) => (ms * 1000) / readings;
  return {
    name: "capture CPU with the audit log, per reading (4 readings a commit, on the disk)",
    unit: "µs",
    value: perReading(spent.logged),
    baselineName: "the same capture without the log",
    baseline: perReading(spent.plain),
    target: "≤ 1.05× (5 % of capture CPU); ≤ 40 bytes a reading",
    targetValue: perReading(spent.plain) * 1.05,
    lowerIsBetter: true,
    note: `a reading gains ${bytes} bytes (log_id and log_index)`,
  };
}
