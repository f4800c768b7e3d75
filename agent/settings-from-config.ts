import { dirname, join } from "node:path";
import type { AgentConfig } from "../config/schema.js";
import type { ContainerInfo } from "../core/gateway-status.js";
import { productCatalogue, type Product } from "../core/products.js";
import { thresholdFor } from "./rules/engine.js";

/** What the agent derives from its config, in one place: the file's and a remote setting's. */

/** Where the config shadow's applied settings are kept: beside the outbox, unless configured. */
export function remoteStateFile(config: AgentConfig): string | null {
  if (config.remoteConfig.stateFile !== undefined) return config.remoteConfig.stateFile;
  if (config.buffer.path === ":memory:") return null;
  return join(dirname(config.buffer.path), "remote-config.json");
}

export function reportByExceptionConfigs(config: AgentConfig) {
  return new Map(
    config.containers.flatMap((c) =>
      c.reportByException ? [[c.id, c.reportByException] as const] : [],
    ),
  );
}

/**
 * Per container, how long without a good read raises device_unreachable: the configured time,
 * else the longer of three sampling intervals and 30 s (one slow poll is not news).
 */
export function deviceUnreachableAfter(config: AgentConfig): Map<string, number> {
  const rule = config.rules.deviceUnreachable;
  if (!rule.enabled) return new Map();
  return new Map(
    config.containers.map((c) => {
      const interval = c.intervalMs ?? config.sampling.intervalMs;
      return [
        c.id,
        rule.afterSeconds !== undefined ? rule.afterSeconds * 1000 : Math.max(3 * interval, 30_000),
      ];
    }),
  );
}

/** The containers as a live view shows them: product, setpoint, the rules' current limit, interval. */
export function containerInfos(
  config: AgentConfig,
  products: ReadonlyMap<string, Product>,
  rules: AgentConfig["rules"],
): ContainerInfo[] {
  return config.containers.map((c) => {
    const product = products.get(c.id) ?? {
      id: c.product,
      name: c.product,
      targetTemperature: 0,
      targetHumidity: 0,
    };
    return {
      id: c.id,
      product: product.id,
      productName: product.name,
      setpoint: product.targetTemperature,
      limit: thresholdFor(rules, product),
      intervalMs: c.intervalMs ?? config.sampling.intervalMs,
    };
  });
}

/** Per-read timeout in force for a sampling interval. */
export function readTimeoutMs(config: AgentConfig, intervalMs: number): number {
  return config.sampling.timeoutMs ?? Math.min(10_000, Math.floor(intervalMs / 2));
}

/**
 * The checkpoint key's file: the configured one, or beside the outbox; null when the audit log
 * is off, or the outbox is in memory with no key file given (a log that dies with the process
 * proves nothing).
 */
export function auditKeyFile(config: AgentConfig): string | null {
  if (!config.audit.enabled) return null;
  if (config.audit.keyFile !== undefined) return config.audit.keyFile;
  if (config.buffer.path === ":memory:") return null;
  return join(dirname(config.buffer.path), "checkpoint-key.pem");
}

/** Each container's product, from the catalogue and the config's own products. */
export function containerProducts(config: AgentConfig): ReadonlyMap<string, Product> {
  const catalogue = productCatalogue(config.products);
  return new Map(
    config.containers.map((c) => [
      c.id,
      catalogue.get(c.product) ?? {
        id: c.product,
        name: c.product,
        targetTemperature: 0,
        targetHumidity: 0,
      },
    ]),
  );
}

/** Each container's sampling interval and read timeout, for the sampler's retime. */
export function samplingTimes(
  config: AgentConfig,
): Map<string, { intervalMs: number; timeoutMs: number }> {
  return new Map(
    config.containers.map((c) => {
      const intervalMs = c.intervalMs ?? config.sampling.intervalMs;
      return [c.id, { intervalMs, timeoutMs: readTimeoutMs(config, intervalMs) }];
    }),
  );
}
