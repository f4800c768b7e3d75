import { join } from "node:path";
import { validateConfig } from "../../config/load.js";
import type { AgentConfig } from "../../config/schema.js";

export interface TestConfigOptions {
  readonly url: string;
  readonly dir: string;
  readonly gatewayId: string;
  readonly ca?: string;
  readonly identity?: { cert: string; key: string };
  readonly containers?: number;
  readonly intervalMs?: number;
  readonly protocolVersion?: 4 | 5;
  readonly mqtt?: Record<string, unknown>;
}

/** A validated config of simulated reefers sampling fast, for tests against a real broker. */
export function testConfig(options: TestConfigOptions): AgentConfig {
  const containers = Array.from({ length: options.containers ?? 3 }, (_, i) => ({
    id: `C${String(i + 1).padStart(2, "0")}`,
    product: `P0${(i % 5) + 1}`,
    driver: { type: "simulated", seed: i + 1, timeScale: 60 },
  }));
  return validateConfig(
    {
      version: 1,
      gateway: { id: options.gatewayId },
      mqtt: {
        url: options.url,
        ...(options.ca && { ca: options.ca }),
        ...(options.identity && { cert: options.identity.cert, key: options.identity.key }),
        protocolVersion: options.protocolVersion ?? 5,
        keepaliveSeconds: 5,
        reconnect: { initialDelayMs: 200, maxDelayMs: 2000, stableAfterMs: 5000 },
        ...options.mqtt,
      },
      buffer: { path: join(options.dir, "outbox.db") },
      sampling: { intervalMs: options.intervalMs ?? 100 },
      containers,
      log: { level: "debug" },
    },
    "test config",
  );
}
