import { dirname, join } from "node:path";
import type { Logger } from "pino";
import type { AgentConfig } from "../../config/schema.js";
import type { Clock } from "../../core/clock.js";
import type { GatewayStatus } from "../../core/gateway-status.js";
import type { Metrics } from "../../core/metrics.js";
import { loadReleaseKey } from "./job-document.js";
import { JobsSession } from "./jobs-session.js";
import { UpdateManager } from "./update-manager.js";

/** Where the update's files live: the configured folder, else `updates` beside the outbox. */
export function updateStateDir(config: AgentConfig): string {
  if (config.update.stateDir !== undefined) return config.update.stateDir;
  if (config.buffer.path === ":memory:") {
    throw new Error(
      "update.enabled needs update.stateDir when buffer.path is :memory: (a download must survive a restart)",
    );
  }
  return join(dirname(config.buffer.path), "updates");
}

export interface Updates {
  /** Rides on each broker connection, as the shadows do. */
  readonly session: JobsSession;
  stop(): Promise<void>;
}

/**
 * Updates over the air, put together for one agent: the Jobs session on its connection, and the
 * manager that takes the jobs. Throws, having started nothing, when the release key cannot be
 * used (the agent refuses to start rather than run with updates it cannot verify).
 */
export function openUpdates(
  config: AgentConfig,
  parts: {
    readonly status: GatewayStatus;
    readonly runningVersion: string;
    readonly excursions: () => readonly string[];
    readonly clock: Clock;
    readonly logger: Logger;
    readonly metrics: Metrics;
    readonly random: () => number;
  },
): Updates {
  const releaseKey = loadReleaseKey(config.update.releaseKeyFile);
  let delivered = 0;
  const count = (rows: number) => {
    delivered += rows;
  };
  parts.status.events.on("published", count);
  let manager: UpdateManager | null = null;
  const session = new JobsSession({
    thing: config.gateway.id,
    next: (execution) => manager?.next(execution),
    logger: parts.logger,
    metrics: parts.metrics,
  });
  manager = new UpdateManager({
    settings: config.update,
    pollMs: config.update.pollSeconds * 1000,
    stateDir: updateStateDir(config),
    runningVersion: parts.runningVersion,
    releaseKey,
    jobs: session,
    status: parts.status,
    excursions: parts.excursions,
    // Readings committed to the outbox since this process started.
    captured: () => parts.metrics.get("readings_captured"),
    delivered: () => delivered,
    clock: parts.clock,
    logger: parts.logger,
    metrics: parts.metrics,
    random: parts.random,
  });
  const running = manager;
  return {
    session,
    stop: async () => {
      parts.status.events.off("published", count);
      await running.stop();
    },
  };
}
