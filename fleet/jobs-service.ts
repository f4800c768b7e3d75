import { readFileSync } from "node:fs";
import mqtt, { type MqttClient } from "mqtt";
import type { JobStatus } from "../agent/update/jobs-session.js";
import { abortDue, RolloutPace, type Abort, type JobSummary, type Rollout } from "./job-rollout.js";

export type { Abort, JobSummary, Rollout } from "./job-rollout.js";

/** A client's certificate and key files. */
export interface Identity {
  readonly cert: string;
  readonly key: string;
}

/** The common name the broker's ACL lets read and write every thing's job topics. */
export const JOBS_SERVICE_ID = "jobs-service";

type Status = JobStatus;

const TERMINAL = new Set<Status>([
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "REJECTED",
  "REMOVED",
  "CANCELED",
]);

export interface Execution {
  jobId: string;
  thingName: string;
  status: Status;
  statusDetails: Record<string, string>;
  versionNumber: number;
  executionNumber: number;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
  /** Every status this execution went through, in order, for a test to read. */
  history: { status: Status; statusDetails: Record<string, string> }[];
}

interface Job {
  jobId: string;
  document: unknown;
  stepTimeoutMs: number | undefined;
  createdAt: number;
  status: JobSummary["status"];
  /** Things not yet notified (the rollout releases them at its rate). */
  waiting: string[];
  notified: number;
  pace: RolloutPace | null;
  abort: Abort | undefined;
  abortedAt: number | null;
}

const REQUEST = /^\$aws\/things\/([^/]+)\/jobs\/(start-next|([^/]+)\/(get|update))$/;
const PRESIGNED = /\$\{aws:iot:s3-presigned-url:([^}]+)\}/g;

/**
 * AWS IoT Jobs' MQTT API for tests, on Mosquitto: jobs created for things, one execution per
 * thing and job, as the service documents it (docs.aws.amazon.com/iot/latest/developerguide/
 * jobs-mqtt-api.html):
 * - `start-next` returns the IN_PROGRESS execution first, else moves the oldest QUEUED one to
 *   IN_PROGRESS; no `execution` when none is pending;
 * - `notify-next` goes out whenever a thing's next pending execution changes;
 * - `update` needs the current `expectedVersion` (VersionMismatch otherwise, with the state), and
 *   refuses a change to a terminal execution (InvalidStateTransition);
 * - a step timeout ends an IN_PROGRESS execution as TIMED_OUT unless it is updated in time;
 * - `${aws:iot:s3-presigned-url:<url>}` in a document is replaced by a fresh URL at every
 *   answer that carries the document (`presign`);
 * - a rollout (`exponentialRate`) notifies things at its rate per minute, multiplied by its factor
 *   each time another `succeededToIncrease` succeeded, up to its maximum (1,000 by default);
 * - an abort cancels the job once at least `minExecuted` things were notified and
 *   `failedPercent` of them ended in a failure type it names: things not yet notified never get
 *   it, QUEUED executions become CANCELED, and IN_PROGRESS ones run on (a cancel without force).
 */
export class JobsService {
  private readonly jobs = new Map<string, Job>();
  /** By thing, then by job id, in creation order. */
  private readonly executions = new Map<string, Map<string, Execution>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly rollouts = new Set<NodeJS.Timeout>();
  private stopped = false;

  private constructor(
    private readonly client: MqttClient,
    private readonly presign: (url: string) => string,
  ) {
    client.on("message", (topic, payload) => {
      this.handle(topic, payload);
    });
  }

  static async start(options: {
    brokerUrl: string;
    ca: string;
    /** A client the broker's ACL lets read and write every thing's job topics. */
    identity: Identity;
    presign?: (url: string) => string;
  }): Promise<JobsService> {
    const client = await mqtt.connectAsync(options.brokerUrl, {
      ca: readFileSync(options.ca),
      cert: readFileSync(options.identity.cert),
      key: readFileSync(options.identity.key),
      clientId: `${JOBS_SERVICE_ID}-${process.pid}`,
      protocolVersion: 4,
      reconnectPeriod: 500,
    });
    await client.subscribeAsync(
      ["$aws/things/+/jobs/start-next", "$aws/things/+/jobs/+/get", "$aws/things/+/jobs/+/update"],
      { qos: 1 },
    );
    return new JobsService(client, options.presign ?? ((url) => url));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    for (const timer of this.rollouts) clearInterval(timer);
    await this.client.endAsync();
  }

  /**
   * CreateJob: one QUEUED execution per target thing, each told by notify-next; with a rollout,
   * made at its rate instead of all at once.
   */
  createJob(
    jobId: string,
    document: unknown,
    things: readonly string[],
    options: { stepTimeoutMinutes?: number; rollout?: Rollout; abort?: Abort } = {},
  ): void {
    const job: Job = {
      jobId,
      document,
      stepTimeoutMs:
        options.stepTimeoutMinutes === undefined ? undefined : options.stepTimeoutMinutes * 60_000,
      createdAt: Date.now(),
      status: "IN_PROGRESS",
      waiting: [...things],
      notified: 0,
      pace: options.rollout ? new RolloutPace(options.rollout) : null,
      abort: options.abort,
      abortedAt: null,
    };
    this.jobs.set(jobId, job);
    const pace = job.pace;
    if (!pace) {
      this.release(job, job.waiting.length);
      return;
    }
    // The first thing is notified at once, as AWS starts a rollout.
    this.release(job, 1);
    const timer = setInterval(() => {
      if (job.status !== "IN_PROGRESS" || job.waiting.length === 0) {
        clearInterval(timer);
        return;
      }
      this.release(job, pace.due(250));
    }, 250);
    this.rollouts.add(timer);
  }

  /** Notifies the next `count` things of `job`: their executions made, QUEUED. */
  private release(job: Job, count: number): void {
    for (const thing of job.waiting.splice(0, count)) {
      job.notified++;
      const before = this.nextPending(thing);
      const executions = this.executions.get(thing) ?? new Map<string, Execution>();
      this.executions.set(thing, executions);
      const now = Date.now();
      executions.set(job.jobId, {
        jobId: job.jobId,
        thingName: thing,
        status: "QUEUED",
        statusDetails: {},
        versionNumber: 1,
        executionNumber: 1,
        queuedAt: now,
        lastUpdatedAt: now,
        history: [{ status: "QUEUED", statusDetails: {} }],
      });
      this.notifyIfChanged(thing, before);
    }
    if (count > 0) this.checkAbort(job);
  }

  /** The job's counts over its executions. */
  summary(jobId: string): JobSummary {
    const job = this.jobs.get(jobId);
    const count = (status: Status) => {
      let n = 0;
      for (const executions of this.executions.values())
        if (executions.get(jobId)?.status === status) n++;
      return n;
    };
    const inProgress = count("IN_PROGRESS");
    const queued = count("QUEUED");
    let status = job?.status ?? "COMPLETED";
    if (status === "IN_PROGRESS" && job?.waiting.length === 0 && inProgress + queued === 0)
      status = "COMPLETED";
    return {
      status,
      notified: job?.notified ?? 0,
      succeeded: count("SUCCEEDED"),
      failed: count("FAILED"),
      timedOut: count("TIMED_OUT"),
      canceled: count("CANCELED"),
      inProgress,
      queued,
      abortedAt: job?.abortedAt ?? null,
    };
  }

  /** After an execution ended: the rollout's rate grows with successes, the abort may fire. */
  private onTerminal(execution: Execution): void {
    const job = this.jobs.get(execution.jobId);
    if (!job || job.status !== "IN_PROGRESS") return;
    const summary = this.summary(job.jobId);
    job.pace?.succeeded(summary.succeeded);
    this.checkAbort(job, summary);
  }

  /** The abort's criteria, looked at whenever an execution ends or a thing is notified. */
  private checkAbort(job: Job, summary = this.summary(job.jobId)): void {
    if (!job.abort || job.status !== "IN_PROGRESS" || !abortDue(job.abort, summary)) return;
    job.status = "CANCELED";
    job.abortedAt = Date.now();
    job.waiting = [];
    for (const [thing, executions] of this.executions) {
      const queued = executions.get(job.jobId);
      if (queued?.status !== "QUEUED") continue;
      const before = this.nextPending(thing);
      this.transition(queued, "CANCELED", queued.statusDetails);
      this.notifyIfChanged(thing, before);
    }
  }

  /** CancelJob with force: every execution not yet terminal becomes CANCELED. */
  cancelJob(jobId: string): void {
    for (const [thing, executions] of this.executions) {
      const execution = executions.get(jobId);
      if (!execution || TERMINAL.has(execution.status)) continue;
      const before = this.nextPending(thing);
      this.transition(execution, "CANCELED", execution.statusDetails);
      this.notifyIfChanged(thing, before);
    }
  }

  execution(thing: string, jobId: string): Execution | undefined {
    return this.executions.get(thing)?.get(jobId);
  }

  private handle(topic: string, payload: Buffer): void {
    const match = REQUEST.exec(topic);
    if (!match || this.stopped) return;
    const [, thing = "", operation = "", jobId = "", verb] = match;
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(payload.toString()) as Record<string, unknown>;
    } catch {
      return;
    }
    const clientToken = request.clientToken;
    const base = `$aws/things/${thing}/jobs/${operation}`;
    const reply = (outcome: "accepted" | "rejected", body: Record<string, unknown>) =>
      this.publish(`${base}/${outcome}`, { ...body, clientToken, timestamp: seconds() });
    const notFound = () =>
      reply("rejected", {
        code: "ResourceNotFound",
        message: `no execution of ${jobId} for ${thing}`,
      });

    if (operation === "start-next") {
      const before = this.nextPending(thing);
      const next = before;
      if (next?.status === "QUEUED") {
        next.startedAt = Date.now();
        this.transition(
          next,
          "IN_PROGRESS",
          stringMap(request.statusDetails) ?? next.statusDetails,
        );
      }
      if (next) this.armStepTimeout(next, request.stepTimeoutInMinutes);
      reply("accepted", next ? { execution: this.data(next, true) } : {});
      return;
    }
    const execution = this.execution(thing, jobId);
    if (!execution) {
      notFound();
      return;
    }
    if (verb === "get") {
      reply("accepted", { execution: this.data(execution, request.includeJobDocument !== false) });
      return;
    }
    const status = request.status as Status;
    if (
      request.expectedVersion !== undefined &&
      request.expectedVersion !== execution.versionNumber
    ) {
      reply("rejected", {
        code: "VersionMismatch",
        message: `expected version ${JSON.stringify(request.expectedVersion)}, current ${execution.versionNumber}`,
        executionState: this.state(execution),
      });
      return;
    }
    if (
      TERMINAL.has(execution.status) ||
      !["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"].includes(status)
    ) {
      reply("rejected", {
        code: "InvalidStateTransition",
        message: `${execution.status} cannot become ${status}`,
        executionState: this.state(execution),
      });
      return;
    }
    const before = this.nextPending(thing);
    this.transition(execution, status, stringMap(request.statusDetails) ?? execution.statusDetails);
    if (status === "IN_PROGRESS") this.armStepTimeout(execution, request.stepTimeoutInMinutes);
    reply("accepted", {
      ...(request.includeJobExecutionState === true && { executionState: this.state(execution) }),
    });
    this.notifyIfChanged(thing, before);
  }

  private transition(
    execution: Execution,
    status: Status,
    statusDetails: Record<string, string>,
  ): void {
    execution.status = status;
    execution.statusDetails = statusDetails;
    execution.versionNumber++;
    execution.lastUpdatedAt = Date.now();
    execution.history.push({ status, statusDetails });
    if (TERMINAL.has(status)) {
      clearTimeout(this.timers.get(key(execution)));
      this.timers.delete(key(execution));
      if (status !== "CANCELED") this.onTerminal(execution);
    }
  }

  /** A step timeout (the request's, else the job's) ends the execution unless updated in time. */
  private armStepTimeout(execution: Execution, minutes: unknown): void {
    const ms =
      typeof minutes === "number"
        ? minutes * 60_000
        : this.jobs.get(execution.jobId)?.stepTimeoutMs;
    clearTimeout(this.timers.get(key(execution)));
    if (ms === undefined) return;
    this.timers.set(
      key(execution),
      setTimeout(() => {
        if (execution.status !== "IN_PROGRESS") return;
        const before = this.nextPending(execution.thingName);
        this.transition(execution, "TIMED_OUT", execution.statusDetails);
        this.notifyIfChanged(execution.thingName, before);
      }, ms),
    );
  }

  private nextPending(thing: string): Execution | undefined {
    const all = [...(this.executions.get(thing)?.values() ?? [])];
    return all.find((e) => e.status === "IN_PROGRESS") ?? all.find((e) => e.status === "QUEUED");
  }

  private notifyIfChanged(thing: string, before: Execution | undefined): void {
    const after = this.nextPending(thing);
    if (after === before) return;
    this.publish(`$aws/things/${thing}/jobs/notify-next`, {
      timestamp: seconds(),
      ...(after && { execution: this.data(after, true) }),
    });
  }

  private state(execution: Execution) {
    return {
      status: execution.status,
      statusDetails: execution.statusDetails,
      versionNumber: execution.versionNumber,
    };
  }

  private data(execution: Execution, withDocument: boolean) {
    const document = this.jobs.get(execution.jobId)?.document;
    return {
      jobId: execution.jobId,
      thingName: execution.thingName,
      status: execution.status,
      statusDetails: execution.statusDetails,
      queuedAt: Math.floor(execution.queuedAt / 1000),
      ...(execution.startedAt !== undefined && {
        startedAt: Math.floor(execution.startedAt / 1000),
      }),
      lastUpdatedAt: Math.floor(execution.lastUpdatedAt / 1000),
      versionNumber: execution.versionNumber,
      executionNumber: execution.executionNumber,
      ...(withDocument && {
        jobDocument: JSON.parse(
          JSON.stringify(document).replace(PRESIGNED, (_, url: string) => this.presign(url)),
        ) as unknown,
      }),
    };
  }

  private publish(topic: string, body: unknown): void {
    if (this.stopped) return;
    this.client.publish(topic, JSON.stringify(body), { qos: 1 });
  }
}

const key = (execution: Execution) => `${execution.thingName}/${execution.jobId}`;
const seconds = () => Math.floor(Date.now() / 1000);

function stringMap(value: unknown): Record<string, string> | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}
