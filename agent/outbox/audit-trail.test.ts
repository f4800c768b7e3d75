import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";

import {
  checkpointKeyName,
  checkpointOrigin,
  parseVerifierKey,
  readCheckpoint,
  verifierKey,
} from "../../core/audit/checkpoint.js";
import { verifyLog, type LoggedRecord } from "../../core/audit/verify-log.js";
import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { makeReading } from "../../test/support/readings.js";
import type { Outbox } from "./outbox.js";

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
      const rows = [...box.takeLive(100), ...box.takeBackfill(1e6, 100)];
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
    box.audit?.signCheckpoint(signer);
    const lake = new Lake();
    lake.drain(box);
    const verdict = lake.verify(box);
    expect(verdict).toMatchObject({ missing: [], altered: null });
    expect(verdict.verifiedSize).toBe(box.audit?.size);
    expect(verdict.dropped).toHaveLength(evicted);
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

  it("leaves readings flagged unlogged out of the log", () => {
    const box = boxes.open();
    const { readings } = box.commit({
      readings: box.nextSeqs([makeReading("C1"), makeReading("C1")]),
      unlogged: [true, false],
    });
    expect(readings.map((r) => "log_index" in r)).toEqual([false, true]);
    expect(box.audit?.size).toBe(1);
  });
});
