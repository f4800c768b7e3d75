import type { AgentEvents } from "./events.js";
import type { Metrics } from "./metrics.js";

/**
 * What one gateway shows of itself to the features that watch it: the live feed, the health
 * shadow, the HTTP listener, the captured report, a fleet's tiles and the demo's live view.
 * `Agent` implements it; the features take this port and never the agent itself, so none of
 * them can reach into its parts (a lint rule keeps them from importing agent.ts).
 *
 * The accessors come in three costs: `glance()` reads in-memory tallies (a fleet asks it of
 * thousands of agents every second), `status()` asks the outbox, `wear()` reads the flash's own
 * count from /sys (the health shadow asks it every few minutes, a live feed never), `health()`
 * and `metricsText()` are the HTTP endpoints' answers.
 */
export interface GatewayStatus {
  readonly gatewayId: string;
  /** The agent's version, as the health shadow and the Jobs reports name it. */
  readonly version: string;
  /** Fresh at every start of the process: tells restarts apart in the cloud. */
  readonly bootId: string;
  /** The broker as a technician may see it: scheme, host and port, never credentials. */
  readonly brokerAddress: string;
  readonly events: AgentEvents;
  readonly metrics: Metrics;
  /** The containers as configured now (a reload or the config shadow may change them). */
  containers(): ContainerInfo[];
  /** Cheap figures from in-memory tallies. */
  glance(): GatewayGlance;
  /** The outbox's counts (a query). */
  status(): AgentStatus;
  /** The flash's wear under the outbox (a read of /sys); null off a block device. */
  wear(): DeviceWearRate | null;
  /** /healthz: samples, and delivers or buffers within its budget. */
  health(): Health;
  /** /metrics in the Prometheus text format. */
  metricsText(): string;
}

/** A container as a live view shows it: its product, setpoint, limit and sampling interval. */
export interface ContainerInfo {
  readonly id: string;
  readonly product: string;
  readonly productName: string;
  readonly setpoint: number;
  /** The temperature rule's threshold for the product, as the rules stand now. */
  readonly limit: number;
  readonly intervalMs: number;
}

/** The figures a gateway keeps in memory, cheap to ask every second. */
export interface GatewayGlance {
  /** Whether the publisher is connected to the broker. */
  readonly connected: boolean;
  /** Rows waiting in the outbox (telemetry and alerts). */
  readonly backlog: number;
  /** When the oldest row still in the outbox was captured (ms since the epoch); null if none. */
  readonly oldestCapturedAt: number | null;
  /** Milliseconds since start (monotonic); 0 before it. */
  readonly uptimeMs: number;
  /** Containers whose device stopped answering (device_unreachable raised). */
  readonly unreachableDevices: readonly string[];
  /** The outbox's storage: failing or not, since when, why, and what could not be stored. */
  readonly storage: StorageState;
}

export interface AgentStatus {
  readonly connected: boolean;
  readonly outbox: OutboxStats;
  /** Outbox rows handed to the broker and not yet acknowledged. */
  readonly inflight: number;
  readonly metrics: Record<string, number>;
}

export interface OutboxStats {
  readonly alerts: number;
  readonly telemetry: number;
  readonly held: number;
  readonly bytes: number;
  readonly evictedTelemetry: number;
  readonly evictedAlerts: number;
  readonly deadLettered: number;
  readonly droppedByException: number;
  /** Times the disk was found full while capturing. */
  readonly diskFullEvents: number;
}

/** The outbox's figures before it is open (or after it closed). */
export const EMPTY_OUTBOX_STATS: OutboxStats = {
  alerts: 0,
  telemetry: 0,
  held: 0,
  droppedByException: 0,
  diskFullEvents: 0,
  bytes: 0,
  evictedTelemetry: 0,
  evictedAlerts: 0,
  deadLettered: 0,
};

export interface StorageState {
  readonly failing: boolean;
  /** Wall ms of the first failure of the current episode; null while healthy. */
  readonly since: number | null;
  /** The last failure's words; null while healthy. */
  readonly reason: string | null;
  /** Readings not stored on the disk (kept in memory, or dropped) since the agent started. */
  readonly readingsNotStored: number;
}

export const NO_STORAGE_FAILURE: StorageState = {
  failing: false,
  since: null,
  reason: null,
  readingsNotStored: 0,
};

/** What the block device under the outbox says of its writes and its wear. */
export interface DeviceWear {
  /** The device (or partition), as /sys/dev/block names it: "179:2". */
  readonly device: string;
  /** Bytes written to it since boot, by every writer (the kernel's count, from its stat file). */
  readonly bytesWritten: number;
  /**
   * eMMC's own estimate of the life used, 0 to 1 in tenths, for its two kinds of cells (JEDEC
   * DEVICE_LIFE_TIME_EST_TYP_A and _B); null where the device does not tell (SD cards, USB).
   */
  readonly lifeUsedA: number | null;
  readonly lifeUsedB: number | null;
  /** eMMC PRE_EOL_INFO: 1 normal, 2 warning (80 % of reserved blocks used), 3 urgent; or null. */
  readonly preEol: number | null;
}

/** The device's wear, and the average write rate since the agent started (null in its first second). */
export type DeviceWearRate = DeviceWear & { readonly bytesPerSecond: number | null };

export interface Health {
  readonly status: "ok" | "failing";
  /** Why it is failing, each in words an operator acts on; empty when ok. */
  readonly reasons: string[];
  /** delivering: connected to the broker; buffering: capturing into the outbox while offline. */
  readonly mode: "delivering" | "buffering";
  readonly backlog: number;
  readonly unreachableDevices: readonly string[];
}
