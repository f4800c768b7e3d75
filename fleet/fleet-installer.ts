import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import {
  handoffPath,
  installRequestSchema,
  readHandoff,
  removeHandoff,
  soakReportSchema,
  writeDurably,
  type InstallRequest,
} from "../agent/update/handoff.js";

/** A simulated release's package: what the in-memory installer reads to know what it installs. */
export interface FleetPackage {
  readonly reeferEdgeFleetRelease: 1;
  readonly version: string;
  readonly behaviour: "good" | "crash";
}

/** One gateway as the installer sees it: its update folder and its agent's life. */
export interface InstallTarget {
  readonly id: string;
  readonly stateDir: string;
  /** Stops the gateway's agent (the old version, before its install). */
  stop(): Promise<void>;
  /** Starts the gateway's agent as `version`. */
  start(version: string): void;
}

interface Install {
  readonly target: InstallTarget;
  readonly request: InstallRequest;
  readonly behaviour: FleetPackage["behaviour"];
  readonly since: number;
}

/** What the installers of a worker did in a run. */
export interface InstallerStats {
  readonly installing: number;
  readonly installed: number;
  readonly kept: number;
  readonly rolledBack: number;
  /** The longest time from an install to its rollback, ms. */
  readonly slowestRollbackMs: number;
}

/** How long past the soak a good release may take to show a report that covers it. */
const REPORT_GRACE_MS = 30_000;

/**
 * Each simulated gateway's root installer, in memory: the part of
 * deploy/update/reefer-edge-update a fleet rehearsal needs. It takes the agent's request (the
 * same files, in the same folder, as on a gateway), checks the package's SHA-256, reads what the
 * simulated release does, swaps the agent for one of the new version (or, for a release that
 * crashes, for none), and judges the soak from the new agent's own reports: kept on a healthy
 * report written after the soak's end, else the previous version started again. Its result is
 * the file the agent of whichever version runs reports the job from.
 */
export class FleetInstaller {
  private readonly busy = new Map<string, Install>();
  private readonly taking = new Set<string>();
  private counts = { installed: 0, kept: 0, rolledBack: 0, slowestRollbackMs: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  private timer: NodeJS.Timeout | null = null;

  /** Looks at the gateways every second, one look at a time, until `stop`. */
  run(targets: () => Iterable<InstallTarget>, failed: (error: Error) => void): void {
    let ticking = false;
    this.timer = setInterval(() => {
      if (ticking) return;
      ticking = true;
      this.tick(targets())
        .catch((error: unknown) => failed(error as Error))
        .finally(() => {
          ticking = false;
        });
    }, 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  stats(): InstallerStats {
    return { installing: this.busy.size + this.taking.size, ...this.counts };
  }

  /** Looks at each gateway once: a request to take, or a soak to judge. */
  async tick(targets: Iterable<InstallTarget>): Promise<void> {
    for (const target of targets) {
      const install = this.busy.get(target.id);
      if (install) await this.judge(install);
      else if (!this.taking.has(target.id) && existsSync(handoffPath(target.stateDir, "request")))
        await this.take(target);
    }
  }

  private async take(target: InstallTarget): Promise<void> {
    const file = handoffPath(target.stateDir, "request");
    const request = readHandoff(file, installRequestSchema);
    removeHandoff(file);
    if (!request) return;
    const release = readPackage(request);
    if (typeof release === "string") {
      this.result(target, request, "refused", request.previousVersion, release);
      return;
    }
    this.taking.add(target.id);
    try {
      this.counts.installed++;
      await target.stop();
      if (release.behaviour === "good") target.start(request.version);
      this.busy.set(target.id, {
        target,
        request,
        behaviour: release.behaviour,
        since: this.now(),
      });
    } finally {
      this.taking.delete(target.id);
    }
  }

  private async judge(install: Install): Promise<void> {
    const { target, request, since } = install;
    const soakEnd = since + request.soakSeconds * 1000;
    const now = this.now();
    if (install.behaviour === "good") {
      const report = readHandoff(handoffPath(target.stateDir, "soak"), soakReportSchema);
      if (report?.version === request.version && report.at >= soakEnd && report.healthy) {
        this.busy.delete(target.id);
        this.counts.kept++;
        this.result(
          target,
          request,
          "kept",
          request.version,
          `${request.version} captured ${report.captured} readings, healthy and with no restart, through a ${request.soakSeconds} s soak`,
        );
        return;
      }
      if (now < soakEnd + REPORT_GRACE_MS) return;
    } else if (now < soakEnd) {
      return;
    }
    this.busy.delete(target.id);
    // Awaited, so that a failure reaches the worker's report (run's `failed`).
    await target.stop();
    target.start(request.previousVersion);
    this.counts.rolledBack++;
    this.counts.slowestRollbackMs = Math.max(this.counts.slowestRollbackMs, this.now() - since);
    this.result(
      target,
      request,
      "rolled-back",
      request.previousVersion,
      install.behaviour === "crash"
        ? `${request.version} did not start in its soak; ${request.previousVersion} reinstalled`
        : `${request.version} did not show itself working by the end of its soak; ${request.previousVersion} reinstalled`,
    );
  }

  private result(
    target: InstallTarget,
    request: InstallRequest,
    outcome: "kept" | "rolled-back" | "refused",
    version: string,
    reason: string,
  ): void {
    writeDurably(handoffPath(target.stateDir, "result"), {
      jobId: request.jobId,
      outcome,
      version,
      reason,
      finishedAt: this.now(),
    });
    removeHandoff(request.package);
  }
}

/** The simulated release in a package, checked against the request's SHA-256; or what is wrong. */
function readPackage(request: InstallRequest): FleetPackage | string {
  if (!existsSync(request.package)) return `no package at ${request.package}`;
  const body = readFileSync(request.package);
  if (createHash("sha256").update(body).digest("hex") !== request.sha256)
    return `the package's SHA-256 is not ${request.sha256}`;
  try {
    const release = JSON.parse(body.toString("utf8").trimEnd()) as Partial<FleetPackage>;
    if (release.reeferEdgeFleetRelease === 1 && release.version === request.version)
      return {
        reeferEdgeFleetRelease: 1,
        version: release.version,
        behaviour: release.behaviour === "good" ? "good" : "crash",
      };
  } catch {
    // Not a fleet release: refused below.
  }
  return "not a simulated fleet release";
}

/** A simulated release's package: its JSON, padded with spaces to `size` bytes. */
export function fleetPackage(
  version: string,
  behaviour: FleetPackage["behaviour"],
  size = 64 * 1024,
): Buffer {
  const text = JSON.stringify({
    reeferEdgeFleetRelease: 1,
    version,
    behaviour,
  } satisfies FleetPackage);
  return Buffer.from(text.padEnd(Math.max(size, text.length), " "));
}
