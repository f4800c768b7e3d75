import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";

import {
  checkpointKeyName,
  checkpointOrigin,
  parseVerifierKey,
  readCheckpoint,
  verifierKey,
} from "../../core/audit/checkpoint.js";
import { droppedCount, MAX_GAP_BYTES } from "../../core/audit/gap.js";
import { logKeyOf } from "../../core/audit/leaf.js";
import { verifyLog, type LoggedRecord } from "../../core/audit/verify-log.js";
import { voyageReport } from "../../core/audit/voyage.js";
import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { makeReading } from "../../test/support/readings.js";
import { stateAlert } from "../rules/alert-records.js";
import type { AlertDraft, Outbox } from "./outbox.js";

const GATEWAY = "gw-test";
const boxes = useOutboxes({ audit: { gatewayId: GATEWAY } });
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const signer = { name: checkpointKeyName(GATEWAY), privateKey };
const verifier = parseVerifierKey(verifierKey(signer.name, publicKey));

/** What the lake would hold: every reading published, and the audit messages. */
class Lake {
  readonly records: LoggedRecord[] = [];
  readonly notes: string[] = [];

  /** Publishes everything the outbox holds (as an acknowledging broker would). */
  drain(box: Outbox): void {
    box.beginSession();
    for (;;) {
      const rows = [...box.takeAlerts(100), ...box.takeLive(100), ...box.takeBackfill(1e6, 100)];
      if (rows.length === 0) break;
      for (const row of rows) this.records.push(JSON.parse(row.payload) as LoggedRecord);
      box.accept(rows.map((r) => r.id));
    }
    this.collectAudit(box);
  }

  collectAudit(box: Outbox): void {
    const rows = box.audit?.queued(0, 1000) ?? [];
    for (const row of rows) {
      if (row.kind === "checkpoint") this.notes.push(row.payload);
      else this.records.push(JSON.parse(row.payload) as LoggedRecord);
    }
    box.audit?.delivered(rows.map((r) => r.id));
  }

  verify(box: Outbox) {
    const log = box.audit;
    if (!log) throw new Error("no audit log kept");
    return verifyLog(checkpointOrigin(GATEWAY, log.logId), this.records, this.notes, verifier);
  }
}

/** A checkpoint, the lake drained: the log verifies whole, `dropped` leaves declared. */
function verifiesPastDrops(box: Outbox, dropped: number) {
  box.audit?.signCheckpoint(signer);
  const lake = new Lake();
  lake.drain(box);
  const verdict = lake.verify(box);
  expect(verdict).toMatchObject({ missing: [], altered: null });
  expect(verdict.verifiedSize).toBe(box.audit?.size);
  expect(droppedCount(verdict.dropped)).toBe(dropped);
  return verdict;
}

/** An excursion alert on C1, raised (or cleared) by reading `seq`: what the rules would draft. */
const excursion = (seq: number, kind: "raised" | "cleared" = "raised"): AlertDraft => ({
  containerId: "C1",
  payload: stateAlert(
    { gatewayId: GATEWAY, containerId: "C1", productId: "P01" },
    "temperature_excursion",
    { kind, firstSeq: seq, since: Date.UTC(2026, 11, 5, 9) },
    { seq, measurement_time: new Date(Date.UTC(2026, 11, 5, 9, 0, seq)).toISOString() },
    9.5,
    8,
  ),
});

const tick = (box: Outbox, n = 3) =>
  box.capture(Array.from({ length: n }, (_, i) => makeReading(`C${(i % 2) + 1}`)));

describe("the outbox's audit log", () => {
  it("stamps each reading with its log and index, and a checkpoint over them verifies", () => {
    const box = boxes.open();
    const { readings } = tick(box, 4);
    const logId = box.audit?.logId;
    expect(logId).toMatch(/^[0-9a-f]{8}$/);
    expect(readings.map((r) => [r.seq, (r as unknown as LoggedRecord).log_index])).toEqual([
      [1, 0],
      [1, 1],
      [2, 2],
      [2, 3],
    ]);
    expect(box.audit?.signCheckpoint(signer)).toBe(true);
    expect(box.audit?.signCheckpoint(signer)).toBe(false); // nothing new to sign
    const lake = new Lake();
    lake.drain(box);
    const note = readCheckpoint(lake.notes[0] ?? "");
    expect(note.ok && note.checkpoint).toMatchObject({
      origin: `reefer-edge/${GATEWAY}/${logId}`,
      size: 4,
    });
    expect(lake.verify(box)).toMatchObject({ verifiedSize: 4, missing: [], altered: null });
  });

  it("goes on across restarts under the same log id, and signs again at each start", () => {
    const lake = new Lake();
    let box = boxes.open();
    tick(box);
    box.audit?.signCheckpoint(signer);
    lake.drain(box);
    const logId = box.audit?.logId;
    box.close();
    box = boxes.open();
    expect([box.audit?.logId, box.audit?.size]).toEqual([logId, 3]);
    expect(box.audit?.signCheckpoint(signer)).toBe(true); // a start signs what it found
    tick(box);
    box.audit?.signCheckpoint(signer);
    lake.drain(box);
    expect(lake.verify(box)).toMatchObject({ verifiedSize: 6, missing: [], altered: null });
  });

  it("syncs a checkpoint before it can be sent, with a background WAL sync", () => {
    // Sent before its commit is on the disk, a power cut could take it back and the log go on
    // with other leaves under the indexes it signed (the power-cut rig's audit check).
    let syncs = 0;
    const box = boxes.open({ backgroundSync: true, onSyncTimed: () => syncs++ });
    tick(box, 2);
    const before = syncs;
    expect(box.audit?.signCheckpoint(signer)).toBe(true);
    expect(syncs).toBe(before + 1);
    expect(box.audit?.queued(0, 10).map((r) => r.kind)).toEqual(["checkpoint"]);
  });

  it("keeps the log as committed when a capture rolls back", () => {
    const box = boxes.open();
    tick(box, 2);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() =>
      box.commit({
        readings: box.nextSeqs([makeReading("C1")]),
        alerts: [{ containerId: "C1", payload: circular }],
      }),
    ).toThrow(/circular/i);
    expect(box.audit?.size).toBe(2);
    tick(box, 1);
    box.audit?.signCheckpoint(signer);
    const lake = new Lake();
    lake.drain(box);
    expect(lake.verify(box)).toMatchObject({ verifiedSize: 3, missing: [], altered: null });
  });

  it("declares evicted readings in a gap record, so the log verifies past them", () => {
    const box = boxes.open({ maxBytes: 3000 }); // a few readings fit
    for (let i = 0; i < 10; i++) tick(box);
    const evicted = box.stats().evictedTelemetry;
    expect(evicted).toBeGreaterThan(10);
    const verdict = verifiesPastDrops(box, evicted);
    expect(new Set(verdict.dropped.map((d) => d.reason))).toEqual(new Set(["evicted"]));
  });

  it("declares dead letters and readings report by exception dropped", () => {
    const box = boxes.open();
    const held = box.commit({
      readings: box.nextSeqs([makeReading("C1"), makeReading("C1")]),
      held: [true, true],
    });
    box.commit({ drop: new Map([["C1", [held.readings[0]?.seq ?? 0]]]) });
    box.commit({ promote: new Map([["C1", [held.readings[1]?.seq ?? 0]]]) });
    tick(box, 1);
    box.beginSession();
    const [refused] = box.takeBackfill(1e6, 1);
    if (!refused) throw new Error("nothing to take");
    box.reject([refused.id], "too large");
    box.audit?.signCheckpoint(signer);
    const lake = new Lake();
    lake.drain(box);
    const verdict = lake.verify(box);
    expect(verdict).toMatchObject({ missing: [], altered: null });
    expect(verdict.dropped.map((d) => d.reason).sort()).toEqual([
      "dead_letter",
      "dropped_by_exception",
    ]);
  });

  it("names a clock correction in the reading, and the corrected reading still verifies", () => {
    const box = boxes.open();
    // Captured before the clock was trusted: stamped "unsynced", under the process's epoch.
    const early = makeReading("C1", Date.UTC(2026, 0, 1), { clock: "unsynced" });
    box.commit({ readings: box.nextSeqs([early]), clockEpoch: 7 });
    expect(box.correctClock(7, 86_400_000.4)).toBe(1);
    box.audit?.signCheckpoint(signer);
    const lake = new Lake();
    lake.drain(box);
    expect(lake.records[0]).toMatchObject({ clock: "synced", clock_correction_ms: 86_400_000 });
    expect(lake.verify(box)).toMatchObject({ verifiedSize: 1, altered: null });
  });

  it("logs alerts as leaves: stored as stamped, verified with the readings, their deletion a hole", () => {
    const box = boxes.open();
    tick(box, 2);
    box.capture([makeReading("C1")], [excursion(2)]);
    box.capture([makeReading("C1")], [excursion(3, "cleared")]);
    box.audit?.signCheckpoint(signer);
    const lake = new Lake();
    lake.drain(box);
    const alerts = lake.records.filter((r) => r.schema === "reefer.alert.v1");
    // Each alert after the reading committed with it, in the same transaction.
    expect(alerts.map((a) => [a.state, a.log_index])).toEqual([
      ["raised", 3],
      ["cleared", 5],
    ]);
    const verdict = lake.verify(box);
    expect(verdict).toMatchObject({ verifiedSize: 6, missing: [], altered: null, unlogged: 0 });
    const report = voyageReport(
      "C1",
      { from: new Date(0), to: new Date(8.64e15) },
      lake.records,
      new Map([[logKeyOf(alerts[0] ?? {}), verdict]]),
    );
    expect(report.alerts.map((a) => [a.type, a.state, a.verified])).toEqual([
      ["temperature_excursion", "raised", true],
      ["temperature_excursion", "cleared", true],
    ]);
    expect(report.unverified).toEqual([]);
    // An alert deleted from the ledger: a hole at its index, like a deleted reading.
    const withoutRaise = lake.records.filter((r) => r !== alerts[0]);
    expect(verifyLog(verdict.origin, withoutRaise, lake.notes, verifier).missing).toEqual([
      { from: 3, to: 4 },
    ]);
    // An alert edited (its severity lowered): the log is altered from its index.
    const edited = lake.records.map((r) => (r === alerts[1] ? { ...r, severity: "info" } : r));
    expect(verifyLog(verdict.origin, edited, lake.notes, verifier).altered).not.toBeNull();
  });

  it("declares an alert refused for good in a gap record, with no seq to name", () => {
    const box = boxes.open();
    box.capture([makeReading("C1")], [excursion(1)]);
    box.beginSession();
    const [alert] = box.takeAlerts(1);
    if (!alert) throw new Error("no alert to take");
    box.reject([alert.id], "not authorized");
    tick(box, 1);
    const verdict = verifiesPastDrops(box, 1);
    expect(verdict.dropped.map((d) => [d.reason, d.from, d.to, d.readings.size])).toEqual([
      ["dead_letter", 1, 2, 0],
    ]);
  });

  it("leaves alerts flagged unlogged (sent from memory already) out of the log", () => {
    const box = boxes.open();
    box.commit({
      readings: box.nextSeqs([makeReading("C1")]),
      alerts: [excursion(1), excursion(1, "cleared")],
      unloggedAlerts: [true, false],
    });
    box.beginSession();
    const stored = box.takeAlerts(2).map((row) => JSON.parse(row.payload) as LoggedRecord);
    expect(stored.map((a) => [a.state, a.log_index])).toEqual([
      ["raised", undefined],
      ["cleared", 1],
    ]);
  });

  it("leaves readings flagged unlogged out of the log", () => {
    const box = boxes.open();
    const { readings } = box.commit({
      readings: box.nextSeqs([makeReading("C1"), makeReading("C1")]),
      unlogged: [true, false],
    });
    expect(readings.map((r) => "log_index" in r)).toEqual([false, true]);
    expect(box.audit?.size).toBe(1);
  });

  it("keeps what a full outbox evicts as pending drops, logged in one compact gap record per checkpoint", () => {
    const box = boxes.open({ maxBytes: 3000 }); // a few readings fit
    for (let i = 0; i < 40; i++) tick(box);
    const evicted = box.stats().evictedTelemetry;
    expect(evicted).toBeGreaterThan(100);
    expect(box.audit?.queued(0, 100)).toEqual([]); // pending, not published: nothing logged yet
    box.audit?.signCheckpoint(signer);
    const queued = box.audit?.queued(0, 100) ?? [];
    expect(queued.map((r) => r.kind)).toEqual(["gap", "checkpoint"]);
    const gap = JSON.parse(queued[0]?.payload ?? "{}") as Record<string, unknown>;
    expect(gap).toMatchObject({ schema: "reefer.gap.v2", reason: "evicted" });
    expect(gap.readings).toEqual([
      { container_id: "C1", seqs: [[1, expect.any(Number)]] },
      { container_id: "C2", seqs: [[1, expect.any(Number)]] },
    ]);
    // A few subtree hashes and a seq range per container, not an entry per reading.
    const bytesPerEvicted = (queued[0]?.payload.length ?? 0) / evicted;
    expect(bytesPerEvicted).toBeLessThan(10);
    const lake = new Lake();
    lake.drain(box);
    const verdict = lake.verify(box);
    expect(verdict).toMatchObject({ missing: [], altered: null, coveredByGap: [] });
    expect(verdict.verifiedSize).toBe(box.audit?.size);
    expect(droppedCount(verdict.dropped)).toBe(evicted);
  });

  it("keeps pending drops across a restart (or a power cut) before the checkpoint", () => {
    const box = boxes.open({ maxBytes: 3000 });
    for (let i = 0; i < 10; i++) tick(box);
    const evicted = box.stats().evictedTelemetry;
    box.close(); // no checkpoint: the drops are only pending
    verifiesPastDrops(boxes.open({ maxBytes: 3000 }), evicted);
  });

  it("verifies past checkpoints signed inside what was later dropped", () => {
    const box = boxes.open({ maxBytes: 6000 });
    const lake = new Lake();
    // A checkpoint a tick: its size soon falls inside a subtree of evicted readings.
    for (let i = 0; i < 30; i++) {
      tick(box);
      box.audit?.signCheckpoint(signer);
      for (const row of box.audit?.queued(0, 100) ?? [])
        if (row.kind === "checkpoint") lake.notes.push(row.payload);
    }
    lake.drain(box);
    const verdict = lake.verify(box);
    expect(verdict).toMatchObject({ missing: [], altered: null, rejectedCheckpoints: [] });
    expect(verdict.verifiedSize).toBe(box.audit?.size);
    expect(verdict.unreachableCheckpoints).toBeGreaterThan(0);
  });

  it("names readings the lake holds but the gateway dropped before their acknowledgement as unproven", () => {
    const box = boxes.open({ maxBytes: 3000 });
    const lake = new Lake();
    tick(box);
    box.beginSession();
    // Published, never acknowledged: then the outbox fills and evicts them.
    for (const row of [...box.takeLive(100), ...box.takeBackfill(1e6, 100)])
      lake.records.push(JSON.parse(row.payload) as LoggedRecord);
    const published = lake.records.length;
    for (let i = 0; i < 10; i++) tick(box);
    box.audit?.signCheckpoint(signer);
    lake.drain(box);
    const verdict = lake.verify(box);
    expect(published).toBeGreaterThan(0);
    expect(verdict).toMatchObject({ missing: [], altered: null });
    expect(verdict.coveredByGap.length).toBeGreaterThan(0);
    expect(verdict.verifiedSize).toBe(box.audit?.size);
    // Nothing proves those copies (an edit of one would pass): the voyage calls them unverified.
    const first = lake.records[0] as LoggedRecord;
    const report = voyageReport(
      String(first.container_id),
      { from: new Date(0), to: new Date(8.64e15) },
      lake.records,
      new Map([[logKeyOf(first), verdict]]),
    );
    expect(report.unverified.join()).toMatch(/published, then dropped on the gateway/);
    expect(report.unverifiedReadings).toBeGreaterThan(0);
  });

  it("logs pending drops early when their gap record would outgrow an MQTT message", () => {
    const box = boxes.open();
    for (let i = 0; i < 250; i++) tick(box, 4);
    box.beginSession();
    const rows: { id: number }[] = [];
    for (let batch = box.takeBackfill(1e9, 500); batch.length > 0;) {
      rows.push(...batch);
      batch = box.takeBackfill(1e9, 500);
    }
    // Every other reading refused: a run per reading, far more than one gap record may hold.
    const refused = rows.filter((_, i) => i % 2 === 0).map((r) => r.id);
    box.reject(refused, "too large");
    const early = box.audit?.queued(0, 100) ?? [];
    expect(early.map((r) => r.kind)).toContain("gap");
    expect(early.every((r) => r.payload.length <= MAX_GAP_BYTES + 1024)).toBe(true);
    box.release(rows.filter((_, i) => i % 2 === 1) as never);
    box.audit?.signCheckpoint(signer);
    const lake = new Lake();
    lake.drain(box);
    const verdict = lake.verify(box);
    expect(verdict).toMatchObject({ missing: [], altered: null });
    expect(droppedCount(verdict.dropped)).toBe(refused.length);
  });

  it("counts its checkpoints and gap records against the outbox's disk budget", () => {
    const maxBytes = 40_000;
    const box = boxes.open({ maxBytes });
    // The broker is away: a checkpoint a tick piles up beside the readings.
    for (let i = 0; i < 60; i++) {
      tick(box);
      box.audit?.signCheckpoint(signer);
    }
    tick(box); // the budget is kept at each capture
    const auditBytes = (box.audit?.queued(0, 1000) ?? []).reduce(
      (n, r) => n + Buffer.byteLength(r.payload) + 64,
      0,
    );
    expect(auditBytes).toBeGreaterThan(maxBytes / 4);
    const stats = box.stats();
    // Within the budget, but for the pending drops of the budget's own evictions, written as the
    // capture commits, after the budget was kept: a few hundred bytes.
    expect(stats.bytes).toBeLessThanOrEqual(maxBytes + 1024);
    expect(stats.bytes).toBeGreaterThan(auditBytes);
    expect(stats.evictedTelemetry).toBeGreaterThan(0);
    // Reopened, the tally is counted from the database the same way.
    box.close();
    expect(boxes.open({ maxBytes }).stats().bytes).toBe(stats.bytes);
  });
});
