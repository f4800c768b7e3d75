import { setTimeout as sleep } from "node:timers/promises";
import { waitFor } from "../../support/wait-for.js";
import type { Guest } from "./guest.js";
import type { GuestReleases } from "./guest-releases.js";

/** Where in an update the power went, in the order an update goes through them. */
export type UpdatePhase = "download" | "install" | "soak";
export const UPDATE_PHASES: readonly UpdatePhase[] = ["download", "install", "soak"];

/** One power cut in an update. */
export interface UpdateCut {
  /** The phase it was aimed at, and the one it landed in (a later one if that had begun). */
  readonly aimed: UpdatePhase;
  readonly phase: UpdatePhase;
  /** How long after the phase was seen to begin the power went, in ms. */
  readonly afterMs: number;
  /** The installer's last line on the console when the power went ("" if none this boot). */
  readonly lastStep: string;
}

/** One update job with power cuts in it, as it ended. */
export interface UpdateCutRecord {
  readonly jobId: string;
  readonly from: string;
  readonly to: string;
  readonly cuts: readonly UpdateCut[];
  readonly status: "SUCCEEDED" | "FAILED";
  readonly reason: string;
  /** The version the agent ran at the end, and how long the last boot took to get there. */
  readonly running: string;
  readonly recoverySeconds: number;
}

interface UpdateCutsOptions {
  readonly releases: GuestReleases;
  readonly thing: string;
  /** The version installed in the image. */
  readonly installed: string;
  readonly random: () => number;
  boot(): Guest;
  agentStarted(guest: Guest): Promise<number>;
  checkGuest(guest: Guest): void;
  captured(): number;
  /** Counts the boot's outbox recoveries (an update's restarts are not failed starts). */
  countRecoveries(guest: Guest): void;
}

/** A boot under TCG, a 60 MB package through dpkg, and a soak: minutes, not seconds. */
const STEP_DEADLINE_MS = 600_000;
/**
 * How long after a phase began the cut may land: about the phase's length under emulation (a
 * download of 15 s, dpkg's unpack and maintainer scripts of about a minute, the soak). A cut
 * that lands after the phase ended lands in the next one, which is an update's moment too.
 */
const PHASE_SPAN_MS: Record<UpdatePhase, number> = {
  download: 12_000,
  install: 50_000,
  soak: 15_000,
};

/**
 * Power cuts during updates over the air, in the whole-system guest. A job is created for the
 * gateway; the power goes at a random moment of each phase asked for, in the update's order
 * (the agent's download, the installer's dpkg run, the soak), one boot each; and the boot after
 * the last cut must finish the job by itself: the agent resumes its download or reads the
 * installer's result, and the installer's boot-time run finishes or undoes the step its journal
 * names. It ends when the job has ended and the agent of the version the job's status names (the
 * new one if SUCCEEDED, the old one if FAILED) has started, the installer idle, and captures.
 * Then the power goes once more, at a quiet moment.
 */
export class UpdateCuts {
  readonly records: UpdateCutRecord[] = [];
  private running: string;

  constructor(private readonly options: UpdateCutsOptions) {
    this.running = options.installed;
  }

  /** One job, with a cut in each of `phases` (in the update's order). */
  async job(phases: readonly UpdatePhase[]): Promise<UpdateCutRecord> {
    const { releases, thing } = this.options;
    const from = this.running;
    const to = releases.other(from);
    let jobId = "";
    const cuts: UpdateCut[] = [];
    for (const aimed of phases) {
      if (jobId !== "" && this.ended(jobId)) break;
      const guest = this.options.boot();
      try {
        if (jobId === "") {
          await this.options.agentStarted(guest);
          jobId = releases.release(thing, to);
        }
        const id = jobId;
        // A holder, not a `let`: the closure below sets it.
        const seen: { phase: UpdatePhase | null } = { phase: null };
        await waitFor(
          `job ${id}'s ${aimed} (or a later phase) to begin in the guest`,
          () => {
            this.options.checkGuest(guest);
            seen.phase = this.phaseOf(guest.console(), to, aimed);
            return seen.phase !== null || this.ended(id);
          },
          STEP_DEADLINE_MS,
          { detail: () => this.detail(id, guest) },
        );
        // The moment is chosen, not waited for: a random point of the phase.
        const afterMs = Math.floor(this.options.random() * PHASE_SPAN_MS[seen.phase ?? aimed]);
        await sleep(afterMs);
        cuts.push({
          aimed,
          phase: seen.phase ?? aimed,
          afterMs,
          lastStep: lastInstallerLine(guest.console()),
        });
      } finally {
        await guest.cut();
        this.options.countRecoveries(guest);
      }
    }
    return this.finish(jobId, from, to, cuts);
  }

  /** The boot after the cuts: the job's end, and the agent of the version its status names. */
  private async finish(
    jobId: string,
    from: string,
    to: string,
    cuts: readonly UpdateCut[],
  ): Promise<UpdateCutRecord> {
    const { releases, thing } = this.options;
    const recovery = this.options.boot();
    const started = Date.now();
    try {
      await waitFor(
        `job ${jobId} to end after the cuts`,
        () => {
          this.options.checkGuest(recovery);
          return this.ended(jobId);
        },
        STEP_DEADLINE_MS,
        { detail: () => this.detail(jobId, recovery) },
      );
      const execution = releases.execution(thing, jobId);
      const status = execution?.status === "SUCCEEDED" ? "SUCCEEDED" : "FAILED";
      const expected = status === "SUCCEEDED" ? to : from;
      let capturedAtStart = -1;
      await waitFor(
        `the agent of ${expected} to run and capture after job ${jobId} ended ${status}`,
        () => {
          this.options.checkGuest(recovery);
          const text = recovery.console();
          if (lastStartedVersion(text) !== expected || installerBusy(text)) {
            capturedAtStart = -1;
            return false;
          }
          if (capturedAtStart < 0) capturedAtStart = this.options.captured();
          return this.options.captured() >= capturedAtStart + 3;
        },
        STEP_DEADLINE_MS,
        { detail: () => this.detail(jobId, recovery) },
      );
      this.running = expected;
      const record: UpdateCutRecord = {
        jobId,
        from,
        to,
        cuts,
        status,
        reason: execution?.statusDetails.reason ?? "",
        running: lastStartedVersion(recovery.console()) ?? "",
        recoverySeconds: Math.round((Date.now() - started) / 1000),
      };
      this.records.push(record);
      return record;
    } finally {
      await recovery.cut();
      this.options.countRecoveries(recovery);
    }
  }

  private ended(jobId: string): boolean {
    const status = this.options.releases.execution(this.options.thing, jobId)?.status;
    return status === "SUCCEEDED" || status === "FAILED";
  }

  /**
   * The latest phase at or after `aimed` that this boot has begun, from its console: the agent
   * took the job (and downloads, or finds its package whole), the installer installs, soaks.
   */
  private phaseOf(console: string, to: string, aimed: UpdatePhase): UpdatePhase | null {
    const begun: Record<UpdatePhase, boolean> = {
      download: console.includes('"msg":"update job taken"'),
      install: console.includes(`reefer-edge-update: installing ${to} over`),
      soak: console.includes(`reefer-edge-update: soaking ${to} for`),
    };
    const from = UPDATE_PHASES.indexOf(aimed);
    const later = UPDATE_PHASES.slice(from).filter((phase) => begun[phase]);
    return later.at(-1) ?? null;
  }

  private detail(jobId: string, guest: Guest): string {
    const history = JSON.stringify(
      this.options.releases.execution(this.options.thing, jobId)?.history ?? [],
    );
    return `job history: ${history}\nconsole:\n${guest.console().slice(-3000)}`;
  }
}

/**
 * The phases of `count` update cuts, as jobs of up to three (download, install, soak): each
 * job's cuts cost one update's install, and every phase is cut in turn.
 */
export function updateJobs(count: number): UpdatePhase[][] {
  const jobs: UpdatePhase[][] = [];
  for (let left = count; left > 0; left -= UPDATE_PHASES.length)
    jobs.push(UPDATE_PHASES.slice(0, Math.min(left, UPDATE_PHASES.length)));
  return jobs;
}

/** The version in the last "agent starting" line of a console (agent/agent.ts logs it). */
export function lastStartedVersion(console: string): string | null {
  let version: string | null = null;
  for (const match of console.matchAll(/"version":"([^"]+)"[^\n]*"msg":"agent starting"/g))
    version = match[1] ?? null;
  return version;
}

function installerLines(console: string): string[] {
  return console.split("\n").filter((line) => line.includes("reefer-edge-update: "));
}

/** The installer's last line on the console, "" if none. */
function lastInstallerLine(console: string): string {
  const last = installerLines(console).at(-1) ?? "";
  return last.slice(last.indexOf("reefer-edge-update: ") + "reefer-edge-update: ".length).trim();
}

/**
 * Whether the installer is between steps: its last line is not a result. A job ends when the
 * agent reads the result, which the installer writes before it cleans up, so the version is
 * judged once the installer has said its last word for the job.
 */
function installerBusy(console: string): boolean {
  return /(installing|soaking|rolling back|recovering) /.test(lastInstallerLine(console));
}
