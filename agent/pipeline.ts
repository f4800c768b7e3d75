import { existsSync } from "node:fs";
import type { Logger } from "pino";
import type { AgentConfig } from "../config/schema.js";
import type { Clock } from "../core/clock.js";
import type { AgentEvents } from "../core/events.js";
import type { Metrics } from "../core/metrics.js";
import type { Product } from "../core/products.js";
import type { SharedResources } from "../core/shared-resources.js";
import { CaptureStage } from "./capture-stage.js";
import { ClockCorrection } from "./clock-correction.js";
import { ClockGuard } from "./clock-guard.js";
import { Publisher } from "./publisher/publisher.js";
import type { LinkSession } from "./publisher/connection.js";
import type { TlsMaterial } from "./publisher/tls.js";
import type { DeviceWatch } from "./rules/device-watch.js";
import type { RuleEngine } from "./rules/engine.js";
import type { ReportByException } from "./rules/report-by-exception.js";
import { Sampler } from "./sampler.js";
import { sampledContainers } from "./sampled-containers.js";
import type { GuardedOutbox } from "./storage/guarded-outbox.js";

/** What the data path is made of and from: the agent's parts it wires, in its order. */
export interface PipelineParts {
  readonly config: AgentConfig;
  readonly outbox: GuardedOutbox;
  readonly tls: TlsMaterial;
  readonly rules: RuleEngine;
  readonly reportByException: ReportByException;
  readonly devices: DeviceWatch;
  readonly products: ReadonlyMap<string, Product>;
  readonly shared: SharedResources;
  readonly bootId: string;
  /** What rides on the broker connection besides the data: the shadows, the Jobs session. */
  readonly sessions: readonly LinkSession[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly events: AgentEvents;
  readonly random: () => number;
}

/** The data path, built and not yet started. */
export interface Pipeline {
  readonly publisher: Publisher;
  readonly capture: CaptureStage;
  readonly sampler: Sampler;
}

/**
 * Builds the gateway's data path: drivers -> sampler -> capture stage (sequence, rules, report
 * by exception, one commit) -> outbox -> publisher, with the clock correction all of them
 * consult. A commit wakes the publisher; nothing starts until the agent starts it.
 */
export function buildPipeline(parts: PipelineParts): Pipeline {
  const { config, outbox, clock, logger, metrics, events, random } = parts;
  const clockCorrection = new ClockCorrection(
    new ClockGuard(
      clock,
      config.clock.trust === "timesyncd" ? () => existsSync(config.clock.timesyncdFlag) : undefined,
    ),
    outbox,
    logger.child({ component: "clock" }),
    metrics,
  );
  const publisher = new Publisher({
    clockCorrection,
    gatewayId: config.gateway.id,
    mqtt: config.mqtt,
    envelopeBytes: config.publish.envelopeBytes,
    basicIngest: config.publish.basicIngest,
    limits: {
      messagesPerSecond: config.publish.maxMessagesPerSecond,
      bytesPerSecond: config.publish.maxBytesPerSecond,
    },
    tls: parts.tls,
    queue: outbox.queue,
    clock,
    logger: logger.child({ component: "publisher" }),
    metrics,
    events,
    random,
    sessions: parts.sessions,
  });
  const capture = new CaptureStage({
    outbox,
    rules: parts.rules,
    reportByException: parts.reportByException,
    devices: parts.devices,
    clockCorrection,
    clock,
    logger: logger.child({ component: "capture" }),
    metrics,
    events,
    committed: () => publisher.kick(),
  });
  const sampler = new Sampler({
    clockCorrection,
    gatewayId: config.gateway.id,
    bootId: parts.bootId,
    containers: sampledContainers(config, {
      products: parts.products,
      clock,
      logger,
      metrics,
      shared: parts.shared,
      random,
    }),
    clock,
    logger: logger.child({ component: "sampler" }),
    metrics,
    onTick: (tick) => capture.capture(tick),
  });
  return { publisher, capture, sampler };
}
