import type { GatewayStatus } from "../../core/gateway-status.js";
import type { Clock } from "../../core/clock.js";
import type { ConnectionState } from "../../core/events.js";
import type { ReeferReading } from "../../core/record.js";
import { HealthReporter } from "./health-reporter.js";
import { healthClass, healthReport, type HealthFacts } from "./health-state.js";
import { shadowTopic } from "./shadow-topics.js";

export interface HealthShadowOptions {
  readonly intervalSeconds: number;
  readonly minGapSeconds: number;
  readonly clock: Clock;
  /** Sends one message outside the outbox; false when offline. */
  readonly send: (topic: string, payload: string) => boolean;
}

/**
 * The agent's side of the `health` shadow: keeps what the report needs from the agent's events
 * (last delivery, the clock of the last tick) and lets a HealthReporter decide when to send
 * `{"state":{"reported":...}}` to `$aws/things/<gateway>/shadow/name/health/update`.
 */
export class HealthShadow {
  private readonly facts: { lastDeliveryAt: number | null; clock: HealthFacts["clock"] } = {
    lastDeliveryAt: null,
    clock: "unknown",
  };
  private readonly reporter: HealthReporter;
  private readonly clock: Clock;

  constructor(
    private readonly agent: GatewayStatus,
    options: HealthShadowOptions,
  ) {
    this.clock = options.clock;
    const topic = shadowTopic(agent.gatewayId, "health", "update");
    this.reporter = new HealthReporter({
      intervalMs: options.intervalSeconds * 1000,
      minGapMs: options.minGapSeconds * 1000,
      clock: options.clock,
      classify: () => healthClass(agent, this.facts),
      report: () => healthReport(agent, this.facts, options.clock.now()),
      send: (reported) => options.send(topic, JSON.stringify({ state: { reported } })),
    });
  }

  start(): void {
    this.agent.events.on("published", this.onPublished);
    this.agent.events.on("captured", this.onCaptured);
    this.agent.events.on("connection", this.onConnection);
    this.reporter.start();
  }

  stop(): void {
    this.reporter.stop();
    this.agent.events.off("published", this.onPublished);
    this.agent.events.off("captured", this.onCaptured);
    this.agent.events.off("connection", this.onConnection);
  }

  private readonly onPublished = (): void => {
    this.facts.lastDeliveryAt = this.clock.now();
  };

  private readonly onCaptured = (readings: readonly ReeferReading[]): void => {
    const last = readings[readings.length - 1];
    if (last) this.facts.clock = last.clock;
  };

  private readonly onConnection = (state: ConnectionState): void => {
    if (state === "connected") this.reporter.connected();
  };
}
