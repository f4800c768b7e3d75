import type { Logger } from "pino";
import type { ClockGuard, ClockObservation } from "./clock-guard.js";
import type { Metrics } from "../core/metrics.js";
import type { Sample, Tick } from "./tick.js";

/** Where buffered readings of an untrusted clock epoch are corrected (the outbox). */
export interface CorrectableStore {
  /** Moves the readings of `epoch` by `deltaMs` and marks them synced; returns how many. */
  correctClock(epoch: number, deltaMs: number): number;
}

/**
 * The agent's one view of the wall clock's trust. The sampler observes it every tick, the
 * publisher before a new session publishes anything; the moment the clock becomes trusted the
 * readings of earlier epochs still in the outbox are corrected, so no uncorrected reading leaves
 * once the clock is right. A tick read before the correction and committed after it is corrected
 * by `settle`.
 */
export class ClockCorrection {
  /** Clock epochs already corrected, with their step, for ticks that commit late. */
  private readonly corrected = new Map<number, number>();

  constructor(
    private readonly guard: ClockGuard,
    private readonly store: CorrectableStore,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  observe(): ClockObservation {
    const observation = this.guard.observe();
    if (this.guard.steppedWhileTrusted) {
      this.logger.warn(
        "the wall clock stepped while trusted: readings just before the step carry the old time",
      );
    }
    for (const step of observation.corrections) {
      this.corrected.set(step.epoch, step.deltaMs);
      const corrected = this.store.correctClock(step.epoch, step.deltaMs);
      this.metrics.increment("clock_corrected", corrected);
      this.logger.warn(
        { epoch: step.epoch, deltaMs: step.deltaMs, corrected },
        "the wall clock is now trusted: corrected the times of readings captured before that are still in the outbox",
      );
    }
    return observation;
  }

  /**
   * A tick's samples as they are to be stored, and the epoch to store them under. Ticks may
   * overlap under load: one observed before the clock became trusted can commit after its epoch
   * was corrected; its readings are moved here instead of waiting in the outbox.
   */
  settle(tick: Tick): { samples: readonly Sample[]; epoch: number | null } {
    const epoch = tick.clock.epoch;
    const step = epoch === null ? undefined : this.corrected.get(epoch);
    if (step === undefined) return { samples: tick.samples, epoch };
    const samples = tick.samples.map(({ reading, t }) => ({
      reading: {
        ...reading,
        measurement_time: new Date(t + step).toISOString(),
        clock: "synced" as const,
      },
      t: t + step,
    }));
    return { samples, epoch: null };
  }
}
