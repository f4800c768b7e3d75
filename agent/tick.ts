import type { ClockObservation } from "./clock-guard.js";
import type { UnsequencedReading } from "../core/record.js";

/** A reading as the normalizer made it, with its measurement time in epoch ms. */
export interface Sample {
  readonly reading: UnsequencedReading;
  readonly t: number;
}

/** A container whose read produced nothing this tick, and why. */
export interface ReadFailure {
  readonly containerId: string;
  /** timeout, crc, framing, exception, port_gone, circuit_open or error. */
  readonly errorClass: string;
  /** The devices that did not answer, when the driver names them. */
  readonly devices: readonly string[];
}

/** One tick of a sampling group: what was read, what failed, and the clock they were read on. */
export interface Tick {
  readonly samples: readonly Sample[];
  readonly failures: readonly ReadFailure[];
  readonly clock: ClockObservation;
}
