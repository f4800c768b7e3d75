import { describe, expect, it } from "vitest";
import { judgeHealth, type HealthInputs } from "./health.js";
import { NO_STORAGE_FAILURE } from "../../core/gateway-status.js";

const healthy: HealthInputs = {
  running: true,
  now: 100_000,
  startedAt: 0,
  lastTickAt: 99_000,
  maxIntervalMs: 1_000,
  lastCaptureFailure: null,
  lastEvictionAt: null,
  connected: true,
  backlog: 0,
  unreachableDevices: [],
  storage: NO_STORAGE_FAILURE,
};

describe("/healthz", () => {
  it("is ok while sampling and delivering, and while sampling and buffering offline", () => {
    expect(judgeHealth(healthy)).toMatchObject({ status: "ok", reasons: [], mode: "delivering" });
    expect(judgeHealth({ ...healthy, connected: false, backlog: 50_000 })).toMatchObject({
      status: "ok",
      mode: "buffering",
      backlog: 50_000,
    });
  });

  it("fails when sampling stalled, naming how long", () => {
    const stalled = judgeHealth({ ...healthy, lastTickAt: 60_000 });
    expect(stalled.status).toBe("failing");
    expect(stalled.reasons).toEqual(["sampling stalled: no tick for 40 s"]);
    // Before the first tick, the start counts as the last sign of life.
    expect(judgeHealth({ ...healthy, lastTickAt: null, startedAt: 95_000 }).status).toBe("ok");
  });

  it("fails while captures fail or the disk budget evicts, and recovers once they stop", () => {
    const failing = judgeHealth({
      ...healthy,
      lastCaptureFailure: { at: 98_000, reason: "the disk is full even after evicting" },
      lastEvictionAt: 99_500,
    });
    expect(failing.reasons).toEqual([
      "capture failing: the disk is full even after evicting",
      "outbox over its disk budget: evicting the oldest telemetry",
    ]);
    expect(
      judgeHealth({
        ...healthy,
        lastCaptureFailure: { at: 10_000, reason: "x" },
        lastEvictionAt: 10_000,
      }).status,
    ).toBe("ok");
  });

  it("reports an unreachable device without failing: restarting the agent would not fix it", () => {
    const h = judgeHealth({ ...healthy, unreachableDevices: ["C3"] });
    expect(h).toMatchObject({ status: "ok", unreachableDevices: ["C3"] });
  });

  it("fails when the agent is not running", () => {
    expect(judgeHealth({ ...healthy, running: false }).reasons).toEqual([
      "the agent is not running",
    ]);
  });

  it("fails while the outbox's storage fails, naming since when and why", () => {
    const health = judgeHealth({
      ...healthy,
      storage: {
        failing: true,
        since: Date.parse("2026-12-04T10:00:00Z"),
        reason: "SQLITE_IOERR_WRITE: disk I/O error",
        readingsNotStored: 12,
      },
    });
    expect(health.status).toBe("failing");
    expect(health.reasons).toEqual([
      "storage failing since 2026-12-04T10:00:00.000Z: SQLITE_IOERR_WRITE: disk I/O error; capturing into memory",
    ]);
  });
});
