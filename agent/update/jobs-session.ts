import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { z } from "zod";
import type { Metrics } from "../../core/metrics.js";
import type { SessionLink } from "../publisher/broker-client.js";

/** A job execution's status, as AWS IoT Jobs names them. */
export type JobStatus =
  | "QUEUED"
  | "IN_PROGRESS"
  | "SUCCEEDED"
  | "FAILED"
  | "TIMED_OUT"
  | "REJECTED"
  | "REMOVED"
  | "CANCELED";

/** AWS IoT Jobs keeps statusDetails as a map of strings. */
export type StatusDetails = Readonly<Record<string, string>>;

export interface JobExecution {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly document: unknown;
  readonly versionNumber: number;
  readonly statusDetails: StatusDetails;
}

export type UpdateAnswer =
  | { readonly accepted: true; readonly versionNumber: number }
  | {
      readonly accepted: false;
      readonly code: string;
      readonly message: string;
      /** The execution as the service holds it (a VersionMismatch says it). */
      readonly status?: JobStatus;
      readonly versionNumber?: number;
    };

/** AWS IoT's reserved topics of a thing's jobs. */
export function jobsTopic(thing: string, operation: string): string {
  return `$aws/things/${thing}/jobs/${operation}`;
}

/** A job id as AWS IoT allows it: no `/` or `+` can reach a topic through it. */
const JOB_ID = /^[a-zA-Z0-9_-]{1,64}$/;

const executionSchema = z.looseObject({
  jobId: z.string().regex(JOB_ID),
  status: z.enum([
    "QUEUED",
    "IN_PROGRESS",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "REJECTED",
    "REMOVED",
    "CANCELED",
  ]),
  jobDocument: z.unknown().optional(),
  versionNumber: z.int(),
  statusDetails: z.record(z.string(), z.string()).optional(),
});

const answerSchema = z.looseObject({
  clientToken: z.string().optional(),
  execution: executionSchema.optional(),
  executionState: z
    .looseObject({
      status: executionSchema.shape.status,
      versionNumber: z.int(),
    })
    .optional(),
  code: z.string().optional(),
  message: z.string().optional(),
});

/** An answer that never comes (the link died after the request went out) fails after this. */
const ANSWER_TIMEOUT_MS = 30_000;

export interface JobsSessionOptions {
  readonly thing: string;
  /**
   * The next job execution for this gateway, IN_PROGRESS once start-next took it (it is told
   * again after each reconnect, and after a notify-next); null when none is pending.
   */
  readonly next: (execution: JobExecution | null) => void;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

interface Waiting {
  readonly resolve: (answer: z.output<typeof answerSchema> & { rejected: boolean }) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The device side of AWS IoT Jobs' MQTT API, on the agent's own connection: it asks for the next
 * job on every connection (start-next, which moves a QUEUED execution to IN_PROGRESS and returns
 * an IN_PROGRESS one again after a restart), asks again on every notify-next, and sends status
 * updates with `expectedVersion`, so a stale writer is refused by the service instead of
 * overwriting it.
 *
 * Written over the agent's BrokerClient rather than the SDK's IotJobsClient: that client needs
 * the CRT's own connection, and the agent runs one connection (MQTT.js or the CRT) for its
 * outbox, its shadows and its jobs alike.
 */
export class JobsSession {
  private link: SessionLink | null = null;
  private unlisten: (() => void) | null = null;
  private readonly waiting = new Map<string, Waiting>();
  private readonly topics: {
    notifyNext: string;
    startNext: string;
    startAccepted: string;
    startRejected: string;
  };

  constructor(private readonly options: JobsSessionOptions) {
    const at = (operation: string) => jobsTopic(options.thing, operation);
    this.topics = {
      notifyNext: at("notify-next"),
      startNext: at("start-next"),
      startAccepted: at("start-next/accepted"),
      startRejected: at("start-next/rejected"),
    };
  }

  up(link: SessionLink): void {
    this.link = link;
    this.unlisten = link.onMessage(this.onMessage);
    const { notifyNext, startAccepted, startRejected } = this.topics;
    const at = (operation: string) => jobsTopic(this.options.thing, operation);
    link.subscribe(
      [
        notifyNext,
        startAccepted,
        startRejected,
        at("+/update/accepted"),
        at("+/update/rejected"),
        at("+/get/accepted"),
        at("+/get/rejected"),
      ],
      1,
      (error) => {
        if (error) {
          this.options.logger.warn({ err: error }, "jobs: cannot subscribe");
          return;
        }
        if (this.link === link) this.startNext();
      },
    );
  }

  down(): void {
    this.unlisten?.();
    this.unlisten = null;
    this.link = null;
    for (const [token, waiting] of this.waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error("the broker connection closed before the answer"));
      this.waiting.delete(token);
    }
  }

  get isUp(): boolean {
    return this.link !== null;
  }

  /** Asks for the next pending job (start-next): the answer reaches `next`. */
  startNext(): void {
    this.link?.publish(this.topics.startNext, JSON.stringify({ clientToken: randomUUID() }), 1);
  }

  /**
   * Sets the execution's status; `expectedVersion` is the version last seen, so a concurrent
   * change (an operator's cancel) is refused with VersionMismatch rather than overwritten.
   */
  async update(
    jobId: string,
    status: "IN_PROGRESS" | "SUCCEEDED" | "FAILED",
    statusDetails: StatusDetails,
    expectedVersion: number,
  ): Promise<UpdateAnswer> {
    const answer = await this.request(`${jobId}/update`, {
      status,
      statusDetails,
      expectedVersion,
      includeJobExecutionState: true,
    });
    if (!answer.rejected) {
      return {
        accepted: true,
        versionNumber: answer.executionState?.versionNumber ?? expectedVersion + 1,
      };
    }
    return {
      accepted: false,
      code: answer.code ?? "unknown",
      message: answer.message ?? "",
      ...(answer.executionState && {
        status: answer.executionState.status,
        versionNumber: answer.executionState.versionNumber,
      }),
    };
  }

  /** The execution as the service holds it, with its document (a fresh pre-signed URL in it). */
  async describe(jobId: string): Promise<JobExecution> {
    const answer = await this.request(`${jobId}/get`, { includeJobDocument: true });
    if (answer.rejected || !answer.execution) {
      throw new Error(
        `jobs: describing ${jobId} was refused: ${answer.code ?? ""} ${answer.message ?? ""}`,
      );
    }
    return execution(answer.execution);
  }

  private request(
    operation: string,
    body: Record<string, unknown>,
  ): Promise<z.output<typeof answerSchema> & { rejected: boolean }> {
    const link = this.link;
    if (!link) return Promise.reject(new Error("jobs: not connected"));
    const clientToken = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(clientToken);
        reject(new Error(`jobs: no answer to ${operation} in ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.waiting.set(clientToken, { resolve, reject, timer });
      link.publish(
        jobsTopic(this.options.thing, operation),
        JSON.stringify({ ...body, clientToken }),
        1,
        (error) => {
          if (!error) return;
          clearTimeout(timer);
          this.waiting.delete(clientToken);
          reject(error);
        },
      );
    });
  }

  private readonly onMessage = (topic: string, payload: Buffer): void => {
    const prefix = jobsTopic(this.options.thing, "");
    if (!topic.startsWith(prefix)) return;
    const { logger, metrics } = this.options;
    let parsed: z.output<typeof answerSchema>;
    try {
      const result = answerSchema.safeParse(JSON.parse(payload.toString("utf8")));
      if (!result.success)
        throw new Error(
          result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
        );
      parsed = result.data;
    } catch (error) {
      // A corrupt message from the cloud is named and dropped; the job stays where it was.
      metrics.increment("jobs_messages_refused");
      logger.warn(
        { topic, reason: (error as Error).message },
        "jobs: a message that is not the Jobs API's: ignored",
      );
      return;
    }
    const { notifyNext, startAccepted, startRejected } = this.topics;
    if (topic === notifyNext) {
      // The next pending job changed: take it (start-next), or hear that none is left.
      if (parsed.execution) this.startNext();
      else this.options.next(null);
      return;
    }
    if (topic === startAccepted) {
      this.settle(parsed, false);
      this.options.next(parsed.execution ? execution(parsed.execution) : null);
      return;
    }
    if (topic === startRejected) {
      this.settle(parsed, true);
      logger.warn({ code: parsed.code, message: parsed.message }, "jobs: start-next refused");
      return;
    }
    this.settle(parsed, topic.endsWith("/rejected"));
  };

  private settle(answer: z.output<typeof answerSchema>, rejected: boolean): void {
    const waiting =
      answer.clientToken === undefined ? undefined : this.waiting.get(answer.clientToken);
    if (!waiting || answer.clientToken === undefined) return;
    this.waiting.delete(answer.clientToken);
    clearTimeout(waiting.timer);
    waiting.resolve({ ...answer, rejected });
  }
}

function execution(data: z.output<typeof executionSchema>): JobExecution {
  return {
    jobId: data.jobId,
    status: data.status,
    document: data.jobDocument,
    versionNumber: data.versionNumber,
    statusDetails: data.statusDetails ?? {},
  };
}
