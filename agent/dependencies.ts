import type { Logger } from "pino";
import type { Clock } from "../core/clock.js";

/** What the agent takes from outside; everything else it builds from its config. */
export interface AgentDependencies {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Uniform in [0, 1): the backoff's jitter. */
  readonly random?: () => number;
  /** The version this agent runs as; default its package.json's (a fleet or a test plays others). */
  readonly version?: string;
}
