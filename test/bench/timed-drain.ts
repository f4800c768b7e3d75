import { EventEmitter } from "node:events";
import pino from "pino";
import { systemClock } from "../../core/clock.js";
import type { AgentEventMap } from "../../core/events.js";
import { Metrics } from "../../core/metrics.js";
import type { Outbox } from "../../agent/outbox/outbox.js";
import { Publisher } from "../../agent/publisher/publisher.js";
import type { RateLimits } from "../../agent/publisher/rate-limiter.js";
import { loadTlsMaterial } from "../../agent/publisher/tls.js";
import { validateConfig } from "../../config/load.js";
import type { AgentConfig } from "../../config/schema.js";
import type { MosquittoBroker } from "../support/mosquitto.js";
import type { TestPki } from "../support/pki.js";

export interface TimedDrain {
  readonly seconds: number;
  readonly metrics: Metrics;
  readonly config: AgentConfig;
}

/**
 * Empties a filled outbox into the broker with the real Publisher (gateway gw-0001, mTLS) and
 * times it. Without `limits`, the config's defaults apply: IoT Core's quotas. Closes the outbox.
 */
export async function timedDrain(
  outbox: Outbox,
  broker: MosquittoBroker,
  pki: TestPki,
  options: { envelopeBytes?: number; limits?: RateLimits } = {},
): Promise<TimedDrain> {
  const identity = pki.client("gw-0001");
  const config = validateConfig(
    {
      version: 1,
      gateway: { id: "gw-0001" },
      mqtt: { url: broker.url, ca: pki.caCert, cert: identity.cert, key: identity.key },
      containers: [{ id: "C00", product: "P01", driver: { type: "simulated" } }],
    },
    "bench",
  );
  const metrics = new Metrics();
  const publisher = new Publisher({
    gatewayId: "gw-0001",
    mqtt: config.mqtt,
    envelopeBytes: options.envelopeBytes ?? config.publish.envelopeBytes,
    limits: options.limits ?? {
      messagesPerSecond: config.publish.maxMessagesPerSecond,
      bytesPerSecond: config.publish.maxBytesPerSecond,
    },
    tls: loadTlsMaterial(config.mqtt, Date.now()),
    queue: outbox,
    clock: systemClock,
    logger: pino({ level: "silent" }),
    metrics,
    events: new EventEmitter<AgentEventMap>(),
    random: Math.random,
  });
  const start = process.hrtime.bigint();
  publisher.start();
  while (outbox.stats().telemetry > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await publisher.stop(1000);
  outbox.close();
  return { seconds, metrics, config };
}
