import type { Logger } from "pino";
import type { AgentConfig } from "../config/schema.js";
import { readTimeoutMs } from "./settings-from-config.js";
import { createDriver } from "../drivers/registry.js";
import type { Clock } from "../core/clock.js";
import type { Metrics } from "../core/metrics.js";
import type { Product } from "../core/products.js";
import type { SampledContainer } from "./sampler.js";
import type { SharedResources } from "../core/shared-resources.js";

/** What a container's driver is built with besides its config. */
export interface DriverContext {
  readonly products: ReadonlyMap<string, Product>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly shared: SharedResources;
  readonly random: () => number;
}

/** The sampler's view of each configured container: its interval, read timeout and driver. */
export function sampledContainers(config: AgentConfig, context: DriverContext): SampledContainer[] {
  return config.containers.map((container) => {
    const product = context.products.get(container.id);
    if (!product) throw new Error(`containers: unknown product ${container.product}`); // validated before
    const intervalMs = container.intervalMs ?? config.sampling.intervalMs;
    return {
      id: container.id,
      productId: product.id,
      intervalMs,
      timeoutMs: readTimeoutMs(config, intervalMs),
      driver: createDriver(container.driver, {
        containerId: container.id,
        product,
        clock: context.clock,
        logger: context.logger.child({ component: "driver", container: container.id }),
        metrics: context.metrics,
        shared: context.shared,
        random: context.random,
      }),
    };
  });
}
