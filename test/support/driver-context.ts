import pino, { type Logger } from "pino";
import { systemClock, type Clock } from "../../core/clock.js";
import { Metrics } from "../../core/metrics.js";
import { BUILTIN_PRODUCTS, type Product } from "../../core/products.js";
import { SharedResources } from "../../core/shared-resources.js";
import type { DriverContext } from "../../drivers/driver.js";

/** A driver's context as the agent builds it, with quiet defaults for what a test leaves out. */
export function driverContext(
  overrides: Partial<DriverContext> & { clock?: Clock; logger?: Logger } = {},
): DriverContext {
  const product: Product | undefined = BUILTIN_PRODUCTS[0];
  if (!product) throw new Error("no built-in products");
  return {
    containerId: "C1",
    product,
    clock: systemClock,
    logger: pino({ level: "silent" }),
    metrics: new Metrics(),
    shared: new SharedResources(),
    random: () => 0.5,
    ...overrides,
  };
}
