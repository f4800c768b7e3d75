import type { Logger } from "pino";
import type { Driver } from "../drivers/driver.js";
import { describeReadFailure } from "../drivers/read-error.js";
import { isClockPlausible, type Clock } from "../core/clock.js";
import type { ClockObservation } from "./clock-guard.js";
import type { Metrics } from "../core/metrics.js";
import { normalize } from "./normalizer.js";
import type { ReadFailure, Sample, Tick } from "./tick.js";

/** One container as the sampler sees it. */
export interface SampledContainer {
  readonly id: string;
  readonly productId: string;
  readonly driver: Driver;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface SamplerOptions {
  readonly gatewayId: string;
  readonly bootId: string;
  readonly containers: readonly SampledContainer[];
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Called once per tick with what it read and what failed, to commit them together. */
  readonly onTick: (tick: Tick) => void;
  /** Judges the wall clock once per tick; without it, a plausible time is trusted. */
  readonly clockCorrection?: { observe(): ClockObservation };
}

class ReadTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "ReadTimeout";
  }
}

interface ContainerState {
  /** Replaced when a remote setting changes its interval (see retime). */
  container: SampledContainer;
  opened: boolean;
  /** The read still running from an earlier tick (a driver that ignored its abort). */
  busy: boolean;
  consecutiveFailures: number;
  /** Monotonic time its last tick began; null before the first. */
  lastTickAt: number | null;
}

/**
 * Polls every container on its interval. Containers with the same interval share one drift-free
 * ticker, and each tick's readings are committed together. Each read has its own timeout, so a
 * slow or failing driver costs its own reading and at most the timeout, never the others'
 * readings; a read still running at the next tick is not stacked (counted as an overrun).
 */
export class Sampler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly ticks = new Set<Promise<void>>();
  private readonly states: ContainerState[];
  private running = false;
  /** Monotonic time the last tick finished; null before the first (read by /healthz). */
  lastTickAt: number | null = null;

  constructor(private readonly options: SamplerOptions) {
    this.states = options.containers.map((container) => ({
      container,
      opened: false,
      busy: false,
      consecutiveFailures: 0,
      lastTickAt: null,
    }));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.scheduleAll();
  }

  /**
   * New intervals (and read timeouts) for some containers, from now on: the tickers restart on
   * the new periods; a tick under way finishes as it began.
   */
  retime(timing: ReadonlyMap<string, { intervalMs: number; timeoutMs: number }>): void {
    let changed = false;
    for (const state of this.states) {
      const next = timing.get(state.container.id);
      if (!next) continue;
      if (
        next.intervalMs === state.container.intervalMs &&
        next.timeoutMs === state.container.timeoutMs
      )
        continue;
      state.container = { ...state.container, ...next };
      changed = true;
    }
    if (!changed || !this.running) return;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.scheduleAll();
  }

  /** The containers by interval: each group shares one ticker. */
  private groups(): Map<number, ContainerState[]> {
    const groups = new Map<number, ContainerState[]>();
    for (const state of this.states) {
      const group = groups.get(state.container.intervalMs) ?? [];
      group.push(state);
      groups.set(state.container.intervalMs, group);
    }
    return groups;
  }

  private scheduleAll(): void {
    for (const [interval, group] of this.groups())
      this.schedule(group, interval, this.options.clock.monotonic(), 0);
  }

  /**
   * Stops scheduling, takes a closing reading, waits for the ticks under way to commit, and
   * closes the drivers.
   *
   * The closing reading: a group whose last tick began more than half an interval ago is read
   * once more, so the record never ends more than half an interval before the stop. A restart
   * (an update, a config change the service restarts for) then leaves a gap of the restart
   * alone, not the restart plus up to a whole interval (the update test measures it). A group
   * with a read still under way gets none: that read is its closing one.
   */
  async stop(): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (wasRunning) {
      const now = this.options.clock.monotonic();
      for (const [interval, group] of this.groups()) {
        if (group.some((state) => state.busy)) continue;
        const last = Math.max(...group.map((state) => state.lastTickAt ?? -Infinity));
        if (now - last <= interval / 2) continue;
        const tick = this.tick(group).finally(() => this.ticks.delete(tick));
        this.ticks.add(tick);
      }
    }
    await Promise.allSettled([...this.ticks]);
    await Promise.allSettled(this.states.map((s) => s.container.driver.close()));
  }

  /** Schedules tick `k` of a group at `origin + k × interval` (drift-free). */
  private schedule(group: ContainerState[], interval: number, origin: number, k: number): void {
    if (!this.running) return;
    const now = this.options.clock.monotonic();
    let next = k;
    // After a stall (a suspended process, a long GC), skip the missed ticks rather than burst.
    if (origin + next * interval < now - interval) {
      const missed = Math.floor((now - origin) / interval) - next;
      this.options.metrics.increment("ticks_skipped", missed);
      next += missed;
    }
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        const tick = this.tick(group).finally(() => this.ticks.delete(tick));
        this.ticks.add(tick);
        this.schedule(group, interval, origin, next + 1);
      },
      Math.max(0, origin + next * interval - now),
    );
    this.timers.add(timer);
  }

  private async tick(group: ContainerState[]): Promise<void> {
    const began = this.options.clock.monotonic();
    for (const state of group) state.lastTickAt = began;
    const clock = this.options.clockCorrection?.observe() ?? {
      state: isClockPlausible(this.options.clock.now()) ? "synced" : "unsynced",
      epoch: null,
      offset: this.options.clock.now() - this.options.clock.monotonic(),
      corrections: [],
    };
    const failures: ReadFailure[] = [];
    const results = await Promise.all(group.map((state) => this.readOne(state, clock, failures)));
    const samples = results.filter((r): r is Sample => r !== null);
    // Every tick is handed over, even one that read nothing: silence is news (device_unreachable),
    // and windows close on the wall clock.
    try {
      this.options.onTick({ samples, failures, clock });
      this.options.metrics.increment("readings_captured", samples.length);
      this.lastTickAt = this.options.clock.monotonic();
    } catch (error) {
      this.options.metrics.increment("capture_errors");
      this.options.logger.error(
        { err: error, readings: samples.length },
        "could not capture a tick's readings",
      );
    }
  }

  private async readOne(
    state: ContainerState,
    observed: ClockObservation,
    failures: ReadFailure[],
  ): Promise<Sample | null> {
    const { container } = state;
    const { logger, metrics, clock } = this.options;
    const labels = { container: container.id };
    if (state.busy) {
      metrics.increment("read_overruns", 1, labels);
      return null;
    }
    state.busy = true;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new ReadTimeout(container.timeoutMs));
      }, container.timeoutMs);
    });
    const attempt = this.openAndRead(state, controller.signal);
    // The read may settle after the timeout; only then is the container free again.
    attempt.then(
      () => (state.busy = false),
      () => (state.busy = false),
    );
    try {
      const measurement = await Promise.race([attempt, timeout]);
      const { reading, t, faults } = normalize(
        measurement,
        {
          gatewayId: this.options.gatewayId,
          bootId: this.options.bootId,
          containerId: container.id,
          productId: container.productId,
        },
        observed.epoch === null
          ? clock
          : // An untrusted epoch's readings are stamped on its own offset (see ClockObservation).
            { now: () => clock.monotonic() + observed.offset, monotonic: () => clock.monotonic() },
        observed.state,
      );
      for (const fault of faults) {
        metrics.increment("sensor_faults", 1, { ...labels, field: fault.field });
        logger.warn({ container: container.id, ...fault }, "sensor value refused");
      }
      if (state.consecutiveFailures > 0) {
        logger.info(
          { container: container.id, after: state.consecutiveFailures },
          "reads recovered",
        );
      }
      state.consecutiveFailures = 0;
      return { reading, t };
    } catch (error) {
      const timedOut = error instanceof ReadTimeout;
      metrics.increment(timedOut ? "read_timeouts" : "read_errors", 1, labels);
      failures.push({
        containerId: container.id,
        ...(timedOut ? { errorClass: "timeout", devices: [] } : describeReadFailure(error)),
      });
      state.consecutiveFailures++;
      // Log the first failure and then every 100th, so a dead sensor does not flood the log.
      if (state.consecutiveFailures === 1 || state.consecutiveFailures % 100 === 0) {
        logger.warn(
          { container: container.id, err: error, consecutive: state.consecutiveFailures },
          "read failed",
        );
      }
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  private async openAndRead(state: ContainerState, signal: AbortSignal) {
    if (!state.opened) {
      await state.container.driver.open();
      state.opened = true;
    }
    return state.container.driver.read(signal);
  }
}
