import { generateKeyPairSync } from "node:crypto";
import pino, { type Logger } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import {
  checkpointKeyName,
  checkpointOrigin,
  parseVerifierKey,
  verifierKey,
} from "../../core/audit/checkpoint.js";
import { droppedCount } from "../../core/audit/gap.js";
import { verifyLog, type LoggedRecord } from "../../core/audit/verify-log.js";
import { Metrics } from "../../core/metrics.js";
import { captureLogs } from "../../test/support/logs.js";
import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { makeReading } from "../../test/support/readings.js";
import type { OutboxRow } from "../outbox/publish-queue.js";
import { GuardedOutbox } from "./guarded-outbox.js";

const GATEWAY = "gw-1";
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const signer = { name: checkpointKeyName(GATEWAY), privateKey };
const verifier = parseVerifierKey(verifierKey(signer.name, publicKey));

/** The audit log under write-behind: what the broker acknowledges from memory is logged too. */
describe("write-behind with the audit log", () => {
  const outboxes = useOutboxes({ audit: { gatewayId: GATEWAY } });
  let wall = Date.UTC(2026, 11, 4, 12);
  const clock = { now: () => wall, monotonic: () => wall };
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** What the lake would hold: every message published, readings and audit records alike. */
  const lake = { records: [] as LoggedRecord[], notes: [] as string[] };
  beforeEach(() => {
    lake.records = [];
    lake.notes = [];
  });

  function start(logger: Logger = pino({ level: "silent" })): GuardedOutbox {
    const box = new GuardedOutbox({
      open: () => outboxes.open(),
      path: outboxes.path,
      gatewayId: GATEWAY,
      containers: new Map([
        ["C01", "P01"],
        ["C02", "P02"],
      ]),
      clock,
      logger,
      metrics: new Metrics(),
      memoryRows: 100,
      clearAfterMs: 60_000,
      retryMs: { first: 1000, max: 4000 },
      recovered: () => {},
      writeBehindMs: 5000,
    });
    box.start();
    box.queue.beginSession();
    return box;
  }

  const capture = (box: GuardedOutbox, ...containers: string[]) =>
    box.commit({ readings: box.nextSeqs(containers.map((c) => makeReading(c))) });

  /** Publishes what the box offers (memory first, then the outbox), acknowledged or refused. */
  function publish(box: GuardedOutbox, refuse: (row: OutboxRow) => boolean = () => false): void {
    for (;;) {
      const rows = [...box.queue.takeLive(100), ...box.queue.takeBackfill(1 << 20, 100)];
      if (rows.length === 0) return;
      const refused = rows.filter(refuse);
      for (const row of rows)
        if (!refused.includes(row)) lake.records.push(JSON.parse(row.payload) as LoggedRecord);
      box.queue.accept(rows.filter((r) => !refused.includes(r)).map((r) => r.id));
      if (refused.length > 0)
        box.queue.reject(
          refused.map((r) => r.id),
          "refused",
        );
    }
  }

  /** Signs a checkpoint and publishes the audit outbox. */
  function checkpoint(box: GuardedOutbox): void {
    const trail = box.current?.audit;
    if (!trail) throw new Error("no audit log");
    trail.signCheckpoint(signer);
    const rows = trail.queued(0, 100);
    for (const row of rows) {
      if (row.kind === "checkpoint") lake.notes.push(row.payload);
      else lake.records.push(JSON.parse(row.payload) as LoggedRecord);
    }
    trail.delivered(rows.map((r) => r.id));
  }

  const verify = (logId: string) => {
    const origin = checkpointOrigin(GATEWAY, logId);
    return verifyLog(
      origin,
      lake.records.filter((r) => r.log_id === logId || r.log_id === undefined),
      lake.notes.filter((note) => note.startsWith(`${origin}\n`)),
      verifier,
    );
  };

  it("stamps readings as they go to memory: acknowledged from there, or stored later, all verify", () => {
    const box = start();
    const logId = box.current?.audit?.logId ?? "";
    capture(box, "C01", "C02");
    publish(box); // acknowledged from memory: never written
    capture(box, "C01");
    wall += 6000;
    capture(box, "C02"); // the first waited 5 s: memory is written
    expect(box.current?.query("SELECT seq FROM outbox")).toHaveLength(2);
    checkpoint(box);
    box.queue.beginSession();
    publish(box);
    expect(lake.records.map((r) => [r.container_id, r.seq, r.log_index])).toEqual([
      ["C01", 1, 0],
      ["C02", 1, 1],
      ["C01", 2, 2],
      ["C02", 2, 3],
    ]);
    expect(verify(logId)).toMatchObject({
      verifiedSize: 4,
      missing: [],
      altered: null,
      unlogged: 0,
    });
    box.close();
  });

  it("keeps its log through a graceful stop", () => {
    const box = start();
    const logId = box.current?.audit?.logId;
    capture(box, "C01", "C02");
    box.close(); // stores what memory held
    const again = start();
    expect([again.current?.audit?.logId, again.current?.audit?.size]).toEqual([logId, 2]);
    expect(again.current?.audit?.replaced).toBeNull();
    again.close();
  });

  it("begins a new log after an unclean stop, and both logs verify", () => {
    const box = start();
    const first = box.current?.audit?.logId ?? "";
    capture(box, "C01", "C02");
    checkpoint(box);
    publish(box);
    capture(box, "C01"); // published from memory after the checkpoint, then the power goes
    publish(box);
    box.current?.close(); // a crash: nothing flushed, the mark left
    const logs = captureLogs("warn");
    const next = start(logs.logger);
    const second = next.current?.audit?.logId ?? "";
    expect(second).not.toBe(first);
    expect(next.current?.audit?.replaced).toBe(first);
    expect(next.current?.audit?.size).toBe(0);
    // The operator is told, with both ids.
    expect(logs.lines.find((l) => l.msg.startsWith("the audit log begins anew"))).toMatchObject({
      replaced: first,
      logId: second,
    });
    capture(next, "C01");
    publish(next);
    checkpoint(next);
    // The old log: proven up to its checkpoint, its last reading past it unsigned.
    expect(verify(first)).toMatchObject({
      verifiedSize: 2,
      altered: null,
      unverifiedTail: { from: 2, to: 3 },
    });
    expect(verify(second)).toMatchObject({ verifiedSize: 1, missing: [], altered: null });
    next.close();
  });

  it("declares a reading refused for good from memory in a gap record", () => {
    const box = start();
    const logId = box.current?.audit?.logId ?? "";
    capture(box, "C01", "C02");
    publish(box, (row) => row.containerId === "C02");
    capture(box, "C01"); // memory only: the checkpoint's transaction declares the refused one
    publish(box);
    checkpoint(box);
    const verdict = verify(logId);
    expect(verdict).toMatchObject({ missing: [], altered: null });
    expect(verdict.verifiedSize).toBe(box.current?.audit?.size);
    expect(droppedCount(verdict.dropped)).toBe(1);
    box.close();
  });

  it("keeps what it stamped in memory when a later transaction rolls back", () => {
    const box = start();
    const logId = box.current?.audit?.logId ?? "";
    capture(box, "C01", "C02");
    publish(box);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => box.commit({ alerts: [{ containerId: "C01", payload: circular }] })).toThrow(
      /circular/i,
    );
    expect(box.current?.audit?.size).toBe(2);
    capture(box, "C01");
    publish(box);
    checkpoint(box);
    expect(verify(logId)).toMatchObject({ verifiedSize: 3, missing: [], altered: null });
    box.close();
  });
});
