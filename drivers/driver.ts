import type { Logger } from "pino";
import type { z } from "zod";
import type { Clock } from "../core/clock.js";
import type { Metrics } from "../core/metrics.js";
import type { Product } from "../core/products.js";
import type { Measurement } from "../core/record.js";
import type { SharedResources } from "../core/shared-resources.js";

/** What the agent hands a driver when it creates one. */
export interface DriverContext {
  readonly containerId: string;
  readonly product: Product;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The agent's counters: drivers count what the sampler cannot see (per-slave bus errors). */
  readonly metrics: Metrics;
  /** Resources drivers share (one serial port for every container on it). */
  readonly shared: SharedResources;
  /** Uniform in [0, 1): backoff jitter, injected for deterministic tests and fleets. */
  readonly random: () => number;
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
  /**
   * After the schema: resolves paths in the driver's config against the config file's folder and
   * checks the files it names (a register profile), so `validate` and start refuse a bad one.
   */
  prepare?(config: z.output<Schema>, baseDir: string): Prepared<z.output<Schema>>;
  /** Checks across containers, such as drivers sharing one bus agreeing on its settings. */
  checkTogether?(drivers: readonly { path: string; config: z.output<Schema> }[]): DriverProblem[];
}

/** A problem with a driver's config; `path` is relative to the container's `driver` block. */
export interface DriverProblem {
  readonly path: string;
  readonly message: string;
}

export interface Prepared<Config> {
  readonly config: Config;
  readonly problems: DriverProblem[];
}
