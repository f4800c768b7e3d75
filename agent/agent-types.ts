import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import type { OutboxStats } from "./outbox/outbox.js";

/** What the agent takes from outside; everything else it builds from its config. */
export interface AgentDependencies {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Uniform in [0, 1): the backoff's jitter. */
  readonly random?: () => number;
}

/** A container as a live view shows it: its product, setpoint and temperature limit. */
export interface ContainerInfo {
  readonly id: string;
  readonly product: string;
  readonly productName: string;
  readonly setpoint: number;
  /** The temperature rule's threshold for the product, as the rules stand now. */
  readonly limit: number;
}

export interface AgentStatus {
  readonly connected: boolean;
  readonly outbox: OutboxStats;
  readonly inflight: number;
  readonly metrics: Record<string, number>;
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
