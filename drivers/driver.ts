import type { Logger } from "pino";
import type { z } from "zod";
import type { Clock } from "../agent/clock.js";
import type { Product } from "../agent/products.js";
import type { Measurement } from "../agent/record.js";

/** What the agent hands a driver when it creates one. */
export interface DriverContext {
  readonly containerId: string;
  readonly product: Product;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * One reefer's sensors. The sampler calls `open` once, then `read` on its schedule, never two
 * reads at once, and `close` at shutdown.
 */
export interface Driver {
  /** Opens whatever the driver talks to. A rejection is retried by the sampler on later ticks. */
  open(): Promise<void>;
  /**
   * Reads one sample. Resolves with every field the driver could read (a field it cannot read is
   * null or absent, never a made-up number); rejects when nothing could be read. When `signal`
   * aborts (the per-read timeout), the driver stops waiting and rejects; the sampler has already
   * moved on.
   */
  read(signal: AbortSignal): Promise<Measurement>;
  /** Releases the driver's resources. Safe to call twice and after a failed open. */
  close(): Promise<void>;
}

/** A driver type: its config schema (part of the agent's config schema) and its factory. */
export interface DriverDefinition<Schema extends z.ZodObject = z.ZodObject> {
  readonly configSchema: Schema;
  create(config: z.output<Schema>, context: DriverContext): Driver;
}
