import { deviceErrors } from "../device-errors.js";
import type { HealthClass } from "./health-reporter.js";
import type { DeviceWearRate, GatewayStatus, StorageState } from "../../core/gateway-status.js";

/** The `health` shadow's reported state's format; a consumer checks it before reading fields. */
export const HEALTH_SCHEMA = "reefer-edge/health/1";

/** What the agent knows beyond its status: when it last delivered, the clock of its last tick. */
export interface HealthFacts {
  readonly lastDeliveryAt: number | null;
  readonly clock: "synced" | "unsynced" | "unknown";
}

/**
 * The class of the gateway's health, a change of which is reported at once: from in-memory
 * tallies only (it is looked at every second, by every agent of a fleet).
 */
export function healthClass(gateway: GatewayStatus, facts: HealthFacts): HealthClass {
  const glance = gateway.glance();
  return {
    backlog: glance.backlog > gateway.containers().length * 3,
    clock: facts.clock,
    // Containers whose device stopped answering (device_unreachable raised).
    failing: [...glance.unreachableDevices].sort(),
    storage: glance.storage.failing,
  };
}

/** The gateway's health as the `health` shadow reports it: small, far under the shadow's 8 KB. */
export function healthReport(
  gateway: GatewayStatus,
  facts: HealthFacts,
  now: number,
): Record<string, unknown> {
  const { outbox } = gateway.status();
  const wear = gateway.wear();
  const glance = gateway.glance();
  const oldest = glance.oldestCapturedAt;
  const { devices } = deviceErrors(gateway.metrics);
  return {
    schema: HEALTH_SCHEMA,
    agentVersion: gateway.version,
    bootId: gateway.bootId,
    uptimeSeconds: Math.round(glance.uptimeMs / 1000),
    reportedAt: new Date(now).toISOString(),
    outbox: {
      depth: outbox.telemetry + outbox.alerts,
      bytes: outbox.bytes,
      oldestAgeSeconds: oldest === null ? null : Math.max(0, Math.round((now - oldest) / 1000)),
      evicted: outbox.evictedTelemetry + outbox.evictedAlerts,
      deadLettered: outbox.deadLettered,
    },
    storage: storageReport(glance.storage, wear),
    clock: facts.clock,
    unreachable: [...glance.unreachableDevices].sort(),
    devices: Object.fromEntries(
      devices.map((d) => [d.device, { requests: d.requests, errors: d.errors }]),
    ),
    lastDeliveryAt:
      facts.lastDeliveryAt === null ? null : new Date(facts.lastDeliveryAt).toISOString(),
  };
}

/** The storage block of the report: null fields while it works. */
function storageReport(state: StorageState, wear: DeviceWearRate | null): Record<string, unknown> {
  return {
    failing: state.failing,
    since: state.since === null ? null : new Date(state.since).toISOString(),
    reason: state.reason,
    readingsNotStored: state.readingsNotStored,
    // The flash's wear: bytes a second written to the device since the agent started.
    writeBytesPerSecond:
      wear?.bytesPerSecond === null || !wear ? null : Math.round(wear.bytesPerSecond),
    lifeUsed: wear ? (wear.lifeUsedA ?? wear.lifeUsedB) : null,
    preEol: wear?.preEol ?? null,
  };
}
