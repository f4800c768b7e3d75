import type { Agent } from "../agent.js";
import { deviceErrors } from "../dashboard/device-errors.js";
import type { StorageState } from "../storage/storage-watch.js";
import { agentVersion } from "../version.js";
import type { HealthClass } from "./health-reporter.js";

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
export function healthClass(agent: Agent, facts: HealthFacts): HealthClass {
  return {
    backlog: agent.backlog() > agent.containerCount * 3,
    clock: facts.clock,
    // Containers whose device stopped answering (device_unreachable raised).
    failing: [...agent.unreachableDevices()].sort(),
    storage: agent.storage().failing,
  };
}

/** The gateway's health as the `health` shadow reports it: small, far under the shadow's 8 KB. */
export function healthReport(
  agent: Agent,
  facts: HealthFacts,
  now: number,
): Record<string, unknown> {
  const { outbox } = agent.status();
  const oldest = agent.oldestCapturedAt();
  const { devices } = deviceErrors(agent.metrics);
  return {
    schema: HEALTH_SCHEMA,
    agentVersion: agentVersion(),
    bootId: agent.bootId,
    uptimeSeconds: Math.round(agent.uptimeMs() / 1000),
    reportedAt: new Date(now).toISOString(),
    outbox: {
      depth: outbox.telemetry + outbox.alerts,
      bytes: outbox.bytes,
      oldestAgeSeconds: oldest === null ? null : Math.max(0, Math.round((now - oldest) / 1000)),
      evicted: outbox.evictedTelemetry + outbox.evictedAlerts,
      deadLettered: outbox.deadLettered,
    },
    storage: storageReport(agent.storage(), agent.storageWear()),
    clock: facts.clock,
    unreachable: [...agent.unreachableDevices()].sort(),
    devices: Object.fromEntries(
      devices.map((d) => [d.device, { requests: d.requests, errors: d.errors }]),
    ),
    lastDeliveryAt:
      facts.lastDeliveryAt === null ? null : new Date(facts.lastDeliveryAt).toISOString(),
  };
}

/** The storage block of the report: null fields while it works. */
function storageReport(
  state: StorageState,
  wear: ReturnType<Agent["storageWear"]>,
): Record<string, unknown> {
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
