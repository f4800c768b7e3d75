/** The workers' CPU in steady state: after the ramp settled, before the first chaos event. */
export interface SteadyCpu {
  readonly seconds: number;
  readonly readings: number;
  readonly msPerReading: number;
  /** Of which in the kernel: the outboxes' fdatasyncs, sockets. */
  readonly systemMsPerReading: number;
}

/** The workers' totals at one moment (from their stats, sent every second). */
export interface CpuSnapshot {
  readonly cpuSeconds: number;
  readonly cpuSystemSeconds: number;
  readonly captured: number;
  /** Wall ms. */
  readonly at: number;
}

/** A steady window shorter than this says little: a second of stats either way is 10 %. */
const MIN_WINDOW_SECONDS = 10;
/** After the ramp, the gateways' first ticks and late opens settle for up to this long. */
const SETTLE_SECONDS = 15;

/**
 * Where the steady window lies in a run, in seconds after the ramp: from a settling time until a
 * second before the first chaos event (or the run's end), so that neither the ramp's handshakes
 * and outbox opens nor a fault's reconnects count. Null when that leaves under 10 s.
 */
export function steadySpan(
  durationSeconds: number,
  chaosAtSeconds: readonly number[],
): { from: number; to: number } | null {
  const end = Math.min(durationSeconds, ...chaosAtSeconds);
  const from = Math.min(SETTLE_SECONDS, end / 4);
  const to = end - 1;
  return to - from >= MIN_WINDOW_SECONDS ? { from, to } : null;
}

/** CPU a reading between two snapshots; null when nothing was captured between them. */
export function steadyCpu(from: CpuSnapshot, to: CpuSnapshot): SteadyCpu | null {
  const readings = to.captured - from.captured;
  if (readings <= 0) return null;
  return {
    seconds: (to.at - from.at) / 1000,
    readings,
    msPerReading: ((to.cpuSeconds - from.cpuSeconds) * 1000) / readings,
    systemMsPerReading: ((to.cpuSystemSeconds - from.cpuSystemSeconds) * 1000) / readings,
  };
}
