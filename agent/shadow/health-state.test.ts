import { describe, expect, it } from "vitest";
import { containerInfo, StatusFixture } from "../../test/support/gateway-status.js";
import { healthClass, healthReport, HEALTH_SCHEMA } from "./health-state.js";

const NOW = Date.UTC(2026, 11, 5, 12);

describe("the health shadow's state", () => {
  it("classes a backlog over three readings a container, failing devices sorted, and failing storage", () => {
    const gateway = new StatusFixture("gw", [containerInfo("C1"), containerInfo("C2")]);
    const facts = { lastDeliveryAt: null, clock: "synced" as const };
    expect(healthClass(gateway, facts)).toEqual({
      backlog: false,
      clock: "synced",
      failing: [],
      storage: false,
    });
    gateway.glanceNow = {
      ...gateway.glanceNow,
      backlog: 7,
      unreachableDevices: ["C2", "C1"],
      storage: { failing: true, since: NOW, reason: "EROFS", readingsNotStored: 3 },
    };
    expect(healthClass(gateway, facts)).toEqual({
      backlog: true,
      clock: "synced",
      failing: ["C1", "C2"],
      storage: true,
    });
  });

  it("reports the outbox's depth and age, the storage and its wear, and the devices' errors", () => {
    const gateway = new StatusFixture("gw", [containerInfo("C1")]);
    gateway.glanceNow = { ...gateway.glanceNow, oldestCapturedAt: NOW - 90_000, uptimeMs: 61_400 };
    gateway.statusNow = {
      ...gateway.statusNow,
      outbox: {
        ...gateway.statusNow.outbox,
        telemetry: 40,
        alerts: 2,
        bytes: 9000,
        deadLettered: 1,
      },
    };
    gateway.wearNow = {
      device: "179:2",
      bytesWritten: 1e9,
      lifeUsedA: 0.1,
      lifeUsedB: null,
      preEol: 1,
      bytesPerSecond: 1234.4,
    };
    gateway.metrics.increment("modbus_requests", 10, { bus: "/dev/ttyS0", unit: "1" });
    gateway.metrics.increment("modbus_errors", 2, {
      bus: "/dev/ttyS0",
      unit: "1",
      class: "timeout",
    });
    const report = healthReport(gateway, { lastDeliveryAt: NOW - 1000, clock: "synced" }, NOW);
    expect(report).toMatchObject({
      schema: HEALTH_SCHEMA,
      bootId: gateway.bootId,
      uptimeSeconds: 61,
      reportedAt: new Date(NOW).toISOString(),
      outbox: { depth: 42, bytes: 9000, oldestAgeSeconds: 90, evicted: 0, deadLettered: 1 },
      storage: { failing: false, writeBytesPerSecond: 1234, lifeUsed: 0.1, preEol: 1 },
      lastDeliveryAt: new Date(NOW - 1000).toISOString(),
    });
    expect(Object.values(report.devices as object)).toEqual([{ requests: 10, errors: 2 }]);
  });
});
