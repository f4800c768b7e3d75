import type { KeyObject } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { AgentConfig } from "../../config/schema.js";
import type { Clock } from "../../core/clock.js";
import type { GatewayStatus } from "../../core/gateway-status.js";
import type { Metrics } from "../../core/metrics.js";
import { abortableDelay as delay } from "./abortable-delay.js";
import { downloadPackage } from "./download.js";
import {
  handoffPath,
  installResultSchema,
  jobRecordSchema,
  readHandoff,
  removeHandoff,
  writeDurably,
  type JobRecord,
} from "./handoff.js";
import { checkJobDocument, type UpdateJobDocument } from "./job-document.js";
import type { JobExecution, JobsSession, StatusDetails } from "./jobs-session.js";

export interface UpdateManagerOptions {
  readonly settings: AgentConfig["update"];
  readonly stateDir: string;
  readonly runningVersion: string;
  readonly releaseKey: KeyObject;
  readonly jobs: Pick<JobsSession, "update" | "describe">;
  readonly status: Pick<GatewayStatus, "health" | "glance">;
  /** Containers with an excursion open: a raised alert, or a window over its limit. */
  readonly excursions: () => readonly string[];
  /** Readings committed since the process started. */
  readonly captured: () => number;
  /** Readings and alerts acknowledged by the broker since the process started. */
  readonly delivered: () => number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** How often a deferral, the soak report and the installer's result are looked at again. */
  readonly pollMs?: number;
  readonly random?: () => number;
}

/** The job was ended elsewhere (an operator's cancel, a timeout): stop working on it. */
class JobEnded extends Error {}

/**
 * The agent's half of an update: it takes an update job, checks its document and signature,
 * waits while a backlog drains or an excursion is open (bounded), downloads and verifies the
 * package, and hands a request to the root installer (reefer-edge-update.service); it never
 * installs. While the installer soaks the new version, the agent of that version writes its
 * health for it; whichever version runs afterwards reads the installer's result and ends the job
 * SUCCEEDED or FAILED with the reason. Every step is in `statusDetails.step`.
 */
export class UpdateManager {
  private current: string | null = null;
  private versionNumber = 0;
  private abort = new AbortController();
  private running: Promise<void> | null = null;
  /** Attempts to come again, after one threw. */
  private readonly retries = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly options: UpdateManagerOptions) {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  }

  /** The next job execution, from the Jobs session (again after every reconnect). */
  next(execution: JobExecution | null): void {
    if (execution === null || execution.status !== "IN_PROGRESS") {
      // The job in hand is no longer pending: ended elsewhere (cancelled, timed out). Its
      // download stops; a job already handed to the installer runs on (its soak needs us).
      if (this.current !== null && !this.handedOff()) this.drop();
      return;
    }
    if (execution.jobId === this.current) {
      // Told again (a reconnect): the service's version is the one to expect from now on.
      this.versionNumber = Math.max(this.versionNumber, execution.versionNumber);
      return;
    }
    this.abort.abort();
    this.abort = new AbortController();
    this.current = execution.jobId;
    this.versionNumber = execution.versionNumber;
    const signal = this.abort.signal;
    this.running = this.handle(execution, signal)
      .catch((error: unknown) => {
        if (signal.aborted || error instanceof JobEnded) return;
        // Not the job's failure but this attempt's (a file of the hand-off it could not read,
        // the disk): the job stays in progress at the service, and nothing else would take it
        // up again before a reconnect. So it is tried again after a while, on the same
        // execution, unless another has come meanwhile.
        this.options.logger.error(
          { err: error, jobId: execution.jobId, retryInMs: this.retryMs },
          "update job failed; trying it again",
        );
        this.options.metrics.increment("update_job_retries");
        const retry = setTimeout(() => {
          this.retries.delete(retry);
          if (this.current === null && !this.stopped) this.next(execution);
        }, this.retryMs);
        retry.unref();
        this.retries.add(retry);
      })
      .finally(() => {
        if (this.current === execution.jobId && !signal.aborted) this.current = null;
      });
  }

  /** How long after an attempt that threw the job is taken up again. */
  private get retryMs(): number {
    return Math.max(this.options.pollMs ?? 10_000, 60_000);
  }

  private handedOff(): boolean {
    const record = readHandoff(this.path("job"), jobRecordSchema);
    return record?.jobId === this.current && record.step === "handed-off";
  }

  /** Leaves the job in hand: its work stops and its files go (the partial download too). */
  private drop(): void {
    this.options.logger.warn({ jobId: this.current }, "update job ended elsewhere: stopped");
    this.abort.abort();
    this.current = null;
    const record = readHandoff(this.path("job"), jobRecordSchema);
    if (record) removeHandoff(join(this.options.stateDir, `${packageName(record.version)}.part`));
    for (const name of ["job", "soak"] as const) removeHandoff(this.path(name));
  }

  /** Stops working on the job (the agent stops); its files stay for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const retry of this.retries) clearTimeout(retry);
    this.retries.clear();
    this.abort.abort();
    await this.running;
  }

  private path(name: Parameters<typeof handoffPath>[1]): string {
    return handoffPath(this.options.stateDir, name);
  }

  private async handle(execution: JobExecution, signal: AbortSignal): Promise<void> {
    const { logger, runningVersion } = this.options;
    const { jobId } = execution;
    // The installer finished this job (before this process, or while it soaked).
    if (await this.finishFromResult(jobId, signal)) return;
    const record = readHandoff(this.path("job"), jobRecordSchema);
    if (record?.jobId === jobId && record.step === "handed-off") {
      if (record.version === runningVersion || existsSync(this.path("request"))) {
        await this.awaitInstaller(record, signal);
        return;
      }
      // Handed off, but no request, no result, and the old version runs: a power cut between
      // the job's record and the request, or the installer at work after a boot. The request is
      // written again; the installer takes a job's request once (its `answered` file), so a
      // second copy of one it has taken is dropped.
      logger.warn({ jobId }, "update hand-off not seen through: handing over again");
    }
    const check = checkJobDocument(execution.document, this.options.releaseKey);
    if (!check.ok) {
      logger.warn({ jobId, reason: check.reason }, "update job refused");
      this.options.metrics.increment("update_jobs_refused");
      await this.finish("FAILED", { step: "refused", reason: check.reason }, signal);
      return;
    }
    const { document } = check;
    if (document.version === runningVersion) {
      await this.finish(
        "SUCCEEDED",
        {
          step: "kept",
          version: runningVersion,
          reason: `${runningVersion} is already running`,
        },
        signal,
      );
      return;
    }
    logger.info({ jobId, from: runningVersion, to: document.version }, "update job taken");
    await this.deferWhileBusy(jobId, signal);
    const file = await this.download(jobId, document, signal);
    await this.report({ step: "installing", from: runningVersion, to: document.version }, signal);
    writeDurably(this.path("job"), {
      jobId,
      version: document.version,
      step: "handed-off",
    } satisfies JobRecord);
    writeDurably(this.path("request"), {
      jobId,
      version: document.version,
      package: file,
      sha256: document.package.sha256,
      previousVersion: runningVersion,
      soakSeconds: this.options.settings.soakSeconds,
      maxRssBytes: this.options.settings.soakMaxMemoryMiB * 1024 * 1024,
      signature: document.signature,
      size: document.package.size,
      requestedAt: this.options.clock.now(),
    });
    logger.info({ jobId, version: document.version }, "update handed to the installer");
    await this.awaitInstaller({ jobId, version: document.version, step: "handed-off" }, signal);
  }

  /** Waits while a backlog drains or an excursion is open, at most deferMaxMinutes. */
  private async deferWhileBusy(jobId: string, signal: AbortSignal): Promise<void> {
    const { settings, clock, logger } = this.options;
    const until = clock.monotonic() + settings.deferMaxMinutes * 60_000;
    let said = "";
    for (;;) {
      const why = this.busy();
      if (why === null) return;
      if (why !== said) {
        said = why;
        logger.info({ jobId, why }, "update deferred");
        await this.report({ step: "deferred", reason: why }, signal);
      }
      if (clock.monotonic() >= until) {
        logger.warn({ jobId, why }, "update deferred as long as allowed: going ahead");
        return;
      }
      await delay(this.options.pollMs ?? 10_000, signal);
    }
  }

  private busy(): string | null {
    const open = this.options.excursions();
    if (open.length > 0) return `an excursion is open in ${open.join(", ")}`;
    const { backlog } = this.options.status.glance();
    const limit = this.options.settings.backlogReadings;
    if (backlog >= limit)
      return `a backlog of ${backlog} readings is draining (waits at ${limit} or more)`;
    return null;
  }

  private async download(
    jobId: string,
    document: UpdateJobDocument,
    signal: AbortSignal,
  ): Promise<string> {
    const { logger, metrics, settings } = this.options;
    await this.report({ step: "downloading", to: document.version }, signal);
    writeDurably(this.path("job"), {
      jobId,
      version: document.version,
      step: "downloading",
    } satisfies JobRecord);
    const file = join(this.options.stateDir, packageName(document.version));
    let url = document.package.url;
    const outcome = await downloadPackage({
      file,
      size: document.package.size,
      sha256: document.package.sha256,
      url: async (stale) => {
        if (stale) url = await this.freshUrl(jobId, document);
        return url;
      },
      maxBytesPerSecond: settings.maxBytesPerSecond,
      signal,
      ...(this.options.random && { random: this.options.random }),
      retrying: (reason, have) => {
        metrics.increment("update_download_retries");
        logger.info({ jobId, reason, have }, "update download resumes");
      },
    }).catch(async (error: unknown) => {
      if (signal.aborted) throw error;
      await this.finish("FAILED", { step: "download", reason: (error as Error).message }, signal);
      throw new JobEnded();
    });
    metrics.increment("update_download_bytes", outcome.bytesReceived);
    logger.info({ jobId, ...outcome }, "update package downloaded and verified");
    return file;
  }

  /**
   * A fresh pre-signed URL: the job described again. Its document must still be the one whose
   * signature was checked: only the URL may change.
   */
  private async freshUrl(jobId: string, signed: UpdateJobDocument): Promise<string> {
    const execution = await this.options.jobs.describe(jobId);
    const check = checkJobDocument(execution.document, this.options.releaseKey);
    if (!check.ok) throw new Error(check.reason);
    if (
      check.document.version !== signed.version ||
      check.document.package.sha256 !== signed.package.sha256
    ) {
      throw new Error("the job's document changed under it");
    }
    return check.document.package.url;
  }

  /**
   * After the hand-off: the installer soaks the new version, which writes its health for it, and
   * then writes its result, read here by whichever version runs.
   */
  private async awaitInstaller(record: JobRecord, signal: AbortSignal): Promise<void> {
    const { runningVersion, clock, status, captured, delivered } = this.options;
    if (record.version === runningVersion) {
      await this.report({ step: "soaking", version: runningVersion }, signal);
    }
    for (;;) {
      if (await this.finishFromResult(record.jobId, signal)) return;
      if (record.version === runningVersion) {
        const health = status.health();
        const glance = status.glance();
        writeDurably(this.path("soak"), {
          jobId: record.jobId,
          version: runningVersion,
          pid: process.pid,
          at: clock.now(),
          healthy: health.status === "ok",
          reason: health.status === "ok" ? null : health.reasons.join("; "),
          captured: captured(),
          delivered: delivered(),
          connected: glance.connected,
          backlog: glance.backlog,
          rssBytes: process.memoryUsage.rss(),
        });
      }
      await delay(this.options.pollMs ?? 10_000, signal);
    }
  }

  /** Ends the job as the installer's result for it says, if there is one; whether there was. */
  private async finishFromResult(jobId: string, signal: AbortSignal): Promise<boolean> {
    const result = readHandoff(this.path("result"), installResultSchema);
    if (result?.jobId !== jobId) return false;
    const details = { step: result.outcome, version: result.version, reason: result.reason };
    await this.finish(result.outcome === "kept" ? "SUCCEEDED" : "FAILED", details, signal);
    return true;
  }

  /** Ends the job and clears what the agent kept of it. */
  private async finish(
    status: "SUCCEEDED" | "FAILED",
    details: StatusDetails,
    signal: AbortSignal,
  ): Promise<void> {
    await this.report(details, signal, status);
    for (const name of ["result", "job", "soak"] as const) removeHandoff(this.path(name));
    this.options.metrics.increment("update_jobs", 1, { status: status.toLowerCase() });
    this.options.logger.info({ jobId: this.current, status, ...details }, "update job ended");
  }

  /**
   * Sends a status update, again until the service answers (the link may be down for days);
   * a VersionMismatch on a job still IN_PROGRESS takes the service's version and sends again,
   * and a job ended elsewhere stops the work.
   */
  private async report(
    details: StatusDetails,
    signal: AbortSignal,
    status: "IN_PROGRESS" | "SUCCEEDED" | "FAILED" = "IN_PROGRESS",
  ): Promise<void> {
    const jobId = this.current;
    if (jobId === null) return;
    for (;;) {
      signal.throwIfAborted();
      const answer = await this.options.jobs
        .update(jobId, status, details, this.versionNumber)
        .catch((error: unknown) => error as Error);
      if (!(answer instanceof Error)) {
        if (answer.accepted) {
          this.versionNumber = answer.versionNumber;
          return;
        }
        if (answer.status !== undefined && answer.status !== "IN_PROGRESS") {
          this.options.logger.warn(
            { jobId, status: answer.status },
            "update job ended elsewhere: stopped",
          );
          for (const name of ["job", "soak"] as const) removeHandoff(this.path(name));
          throw new JobEnded();
        }
        if (answer.versionNumber !== undefined) {
          this.versionNumber = answer.versionNumber;
          continue;
        }
        this.options.logger.warn(
          { jobId, code: answer.code, message: answer.message },
          "update status refused",
        );
        throw new JobEnded();
      }
      await delay(this.options.pollMs ?? 10_000, signal);
    }
  }
}

const packageName = (version: string) => `reefer-edge_${version}.deb`;
