import type { Logger } from "pino";
import type { Clock } from "../../core/clock.js";
import type { Metrics } from "../../core/metrics.js";
import { CircuitBreaker, type CircuitBreakerOptions } from "./circuit-breaker.js";
import { classify, ModbusRequestError } from "./errors.js";
import { ModbusLine } from "./line.js";
import type { ReadRequest } from "./request-plan.js";
import type { ModbusTransport } from "./transport.js";

export interface BusOptions {
  /** The port path or host:port, for logs and metric labels. */
  readonly name: string;
  readonly transport: ModbusTransport;
  /** Silence between the end of one transaction and the next request, ms. */
  readonly interFrameDelayMs: number;
  readonly breaker: CircuitBreakerOptions;
  /** Reopening a lost port: full-jitter backoff between these bounds. */
  readonly reopen: { readonly initialDelayMs: number; readonly maxDelayMs: number };
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly random: () => number;
}

export interface RequestOptions {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly signal: AbortSignal;
}

interface Job {
  /** Attempts made so far; a retry is the same job queued again. */
  attempt: number;
  /** This job is its slave's half-open probe. */
  probe: boolean;
  readonly unit: number;
  readonly request: ReadRequest;
  readonly options: RequestOptions;
  readonly resolve: (answer: number[] | boolean[]) => void;
  readonly reject: (error: Error) => void;
  readonly onAbort: () => void;
}

/**
 * One shared Modbus line (an RS-485 port or a TCP connection) and the slaves on it. Requests
 * from every driver on the line are serialized with the inter-frame silence; a slave that has
 * been failing yields the line to healthy ones and is cut off by its circuit breaker, so one
 * dead slave does not stall the others. The line itself (open, lost, reopened) is ModbusLine's.
 */
export class ModbusBus {
  private readonly queue: Job[] = [];
  private readonly breakers = new Map<number, CircuitBreaker>();
  /** Per unit: not to be asked before this monotonic time (its late reply may still come). */
  private readonly quietUntil = new Map<number, number>();
  private readonly unitLabels = new Map<number, Readonly<Record<string, string>>>();
  private readonly line: ModbusLine;
  private pumping = false;
  private lastEnd = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: BusOptions) {
    this.line = new ModbusLine(options);
  }

  /** Opens the line if it is not open; failures are retried in the background. */
  start(): void {
    this.line.start();
  }

  private breaker(unit: number): CircuitBreaker {
    let breaker = this.breakers.get(unit);
    if (!breaker) {
      breaker = new CircuitBreaker(this.options.breaker);
      this.breakers.set(unit, breaker);
    }
    return breaker;
  }

  /** Reads `request` from slave `unit`; rejects with a classified ModbusRequestError. */
  request(
    unit: number,
    request: ReadRequest,
    options: RequestOptions,
  ): Promise<number[] | boolean[]> {
    return new Promise((resolve, reject) => {
      if (options.signal.aborted) {
        reject(abortError());
        return;
      }
      const job: Job = {
        attempt: 0,
        probe: false,
        unit,
        request,
        options,
        resolve,
        reject,
        onAbort: () => {
          const at = this.queue.indexOf(job);
          if (at >= 0) {
            this.queue.splice(at, 1);
            if (job.probe) this.breaker(unit).abandonedProbe();
            reject(abortError());
          }
        },
      };
      options.signal.addEventListener("abort", job.onAbort, { once: true });
      this.queue.push(job);
      void this.pump();
    });
  }

  async close(): Promise<void> {
    for (const job of this.queue.splice(0))
      this.settle(job, new ModbusRequestError("port_gone", "bus closed"));
    await this.line.close();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (
        let job = this.take() ?? (await this.next());
        job;
        job = this.take() ?? (await this.next())
      ) {
        try {
          await this.serve(job);
        } catch (error) {
          // A bug here must cost one request, not the bus (nor crash the agent).
          this.options.logger.error(
            { err: error, unit: job.unit },
            "Modbus request failed unexpectedly",
          );
          this.settle(job, error instanceof Error ? error : new Error(String(error)));
        }
      }
    } finally {
      this.pumping = false;
      // A request queued while the loop was leaving (its caller reacting to the last answer,
      // as a driver reading several register blocks does) would otherwise wait for the next
      // caller's pump, or its own deadline: found by the driver contract suite.
      if (this.queue.length > 0) void this.pump();
    }
  }

  /**
   * The first queued job of a healthy slave; a failing slave's only when no healthy one waits,
   * and not while that slave's late-reply window is open.
   */
  private take(): Job | undefined {
    if (this.queue.length === 0) return undefined;
    const now = this.options.clock.monotonic();
    const ready = (job: Job) => (this.quietUntil.get(job.unit) ?? 0) <= now;
    let index = this.queue.findIndex((job) => ready(job) && this.breaker(job.unit).failures === 0);
    if (index < 0) index = this.queue.findIndex(ready);
    return index >= 0 ? this.queue.splice(index, 1)[0] : undefined;
  }

  /** Waits until a queued job may go (see `take`); undefined when the queue is empty. */
  private async next(): Promise<Job | undefined> {
    while (this.queue.length > 0) {
      const now = this.options.clock.monotonic();
      const wait = Math.min(...this.queue.map((job) => this.quietUntil.get(job.unit) ?? 0)) - now;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
      const job = this.take();
      if (job) return job;
    }
    return undefined;
  }

  private async serve(job: Job): Promise<void> {
    const { metrics, clock } = this.options;
    const labels = this.labelsOf(job.unit);
    if (!(await this.line.ready())) {
      this.fail(
        job,
        new ModbusRequestError("port_gone", `${this.options.name} is not open`),
        labels,
      );
      return;
    }
    const breaker = this.breaker(job.unit);
    if (job.attempt > 0) {
      await this.attempt(job, breaker, labels);
      return;
    }
    if (!breaker.allow(clock.monotonic())) {
      metrics.increment("modbus_skipped", 1, labels);
      this.settle(
        job,
        new ModbusRequestError(
          "circuit_open",
          `unit ${job.unit} is failing: next probe in ${Math.ceil(breaker.waitMs(clock.monotonic()) / 1000)} s`,
        ),
      );
      return;
    }
    job.probe = breaker.state === "half-open";
    await this.attempt(job, breaker, labels);
  }

  /** One attempt of a job; a retry goes back to the queue, so other units use the line meanwhile. */
  private async attempt(
    job: Job,
    breaker: CircuitBreaker,
    labels: Readonly<Record<string, string>>,
  ): Promise<void> {
    const { metrics, clock } = this.options;
    // The inter-frame silence since the end of the last transaction.
    const silence = this.lastEnd + this.options.interFrameDelayMs - clock.monotonic();
    if (silence > 0) await new Promise((resolve) => setTimeout(resolve, silence));
    if (job.options.signal.aborted) {
      if (job.probe) breaker.abandonedProbe();
      this.settle(job, abortError());
      return;
    }
    metrics.increment("modbus_requests", 1, labels);
    let failure: ModbusRequestError;
    try {
      const answer = await this.options.transport.read(
        job.unit,
        job.request,
        job.options.timeoutMs,
      );
      this.lastEnd = clock.monotonic();
      if (breaker.state !== "closed") {
        this.options.logger.info(
          { bus: this.options.name, unit: job.unit },
          "slave answers again: circuit closed",
        );
        metrics.set("modbus_circuit_open", 0, labels);
      }
      breaker.succeeded();
      this.settle(job, answer);
      return;
    } catch (error) {
      failure = classify(error);
    }
    this.lastEnd = clock.monotonic();
    metrics.increment("modbus_errors", 1, { ...labels, class: failure.errorClass });
    if (failure.exceptionCode !== undefined) {
      // Which exception says what to fix: 2 is a wrong address in the profile, 6 a busy slave.
      metrics.increment("modbus_exceptions", 1, { ...labels, code: String(failure.exceptionCode) });
    }
    if (failure.errorClass === "port_gone") {
      this.line.lost(failure.message);
    } else if (failure.errorClass !== "exception") {
      // A clean exception frame leaves the line in order; anything else may have a late tail.
      await this.options.transport.recover();
      const window = this.options.transport.lateReplyWindowMs(job.options.timeoutMs);
      if (window > 0) this.quietUntil.set(job.unit, this.lastEnd + window);
    }
    if (failure.retryable && job.attempt < job.options.retries && !isAborted(job.options.signal)) {
      job.attempt++;
      this.queue.unshift(job);
      return;
    }
    if (failure.countsAgainstSlave && breaker.failed(clock.monotonic())) {
      metrics.increment("modbus_circuit_opens", 1, labels);
      metrics.set("modbus_circuit_open", 1, labels);
      this.options.logger.warn(
        {
          bus: this.options.name,
          unit: job.unit,
          failures: breaker.failures,
          class: failure.errorClass,
        },
        "slave keeps failing: circuit open, probing it again later",
      );
    } else if (job.probe) breaker.abandonedProbe();
    this.settle(job, failure);
  }

  /** One labels object per unit, reused so the metrics' keys are built once. */
  private labelsOf(unit: number): Readonly<Record<string, string>> {
    let labels = this.unitLabels.get(unit);
    if (!labels) {
      labels = Object.freeze({ bus: this.options.name, unit: String(unit) });
      this.unitLabels.set(unit, labels);
    }
    return labels;
  }

  private fail(
    job: Job,
    error: ModbusRequestError,
    labels: Readonly<Record<string, string>>,
  ): void {
    this.options.metrics.increment("modbus_errors", 1, { ...labels, class: error.errorClass });
    this.settle(job, error);
  }

  private settle(job: Job, outcome: number[] | boolean[] | Error): void {
    job.options.signal.removeEventListener("abort", job.onAbort);
    if (outcome instanceof Error) job.reject(outcome);
    else job.resolve(outcome);
  }
}

function abortError(): Error {
  const error = new Error("read cancelled");
  error.name = "AbortError";
  return error;
}

/** Read through a call: TypeScript keeps `signal.aborted` narrowed across awaits, wrongly. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}
