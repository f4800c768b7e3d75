import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { updateSchema } from "../../config/update-schema.js";
import { Metrics } from "../../core/metrics.js";
import { StatusFixture } from "../../test/support/gateway-status.js";
import { makeTempDir } from "../../test/support/tmp.js";
import { handoffPath, installRequestSchema, readHandoff, writeDurably } from "./handoff.js";
import { signedStatement, UPDATE_OPERATION } from "./job-document.js";
import type { JobExecution, StatusDetails, UpdateAnswer } from "./jobs-session.js";
import { UpdateManager } from "./update-manager.js";

const key = generateKeyPairSync("ed25519");

/**
 * The manager's waits, on fake time: a deferral while an excursion is open ends when it closes,
 * or after deferMaxMinutes whatever happens; a status the link cannot carry is sent again until
 * it can. The Jobs API here is a recorder of what the manager sends (its MQTT side is tested
 * against the stand-in on Mosquitto, test/integration/update-job.test.ts).
 */
describe("the update manager's waits", () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    // Timers and the wall clock fake; setImmediate and performance real, for the disk's I/O.
    vi.useFakeTimers({
      toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"],
    });
    temp = makeTempDir();
  });
  afterEach(() => {
    vi.useRealTimers();
    temp.cleanup();
  });

  /** A job whose package is already downloaded: nothing leaves the machine. */
  function job(version = "2.0.0"): JobExecution {
    const body = randomBytes(1000);
    writeFileSync(join(temp.dir, `reefer-edge_${version}.deb`), body);
    const signed = {
      version,
      package: { size: body.length, sha256: createHash("sha256").update(body).digest("hex") },
    };
    return {
      jobId: "job-1",
      status: "IN_PROGRESS",
      versionNumber: 2,
      statusDetails: {},
      document: {
        operation: UPDATE_OPERATION,
        version,
        package: { url: "https://releases.example.com/p.deb", ...signed.package },
        signature: sign(null, signedStatement(signed), key.privateKey).toString("base64"),
      },
    };
  }

  /**
   * The package's hash is read from disk (real I/O, which fake time does not move): waits for it
   * on the real clock, the fake one standing still.
   */
  async function settled(done: () => boolean): Promise<void> {
    const deadline = performance.now() + 10_000;
    while (!done()) {
      if (performance.now() > deadline) throw new Error("the manager did not go on");
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  function manager(options: { excursions: () => string[]; offlineFor?: number }) {
    const sent: { status: string; details: StatusDetails }[] = [];
    let refusals = options.offlineFor ?? 0;
    const jobs = {
      update: (
        _jobId: string,
        status: "IN_PROGRESS" | "SUCCEEDED" | "FAILED",
        details: StatusDetails,
        expectedVersion: number,
      ): Promise<UpdateAnswer> => {
        if (refusals > 0) {
          refusals--;
          return Promise.reject(new Error("jobs: not connected"));
        }
        sent.push({ status, details });
        return Promise.resolve({ accepted: true, versionNumber: expectedVersion + 1 });
      },
      describe: () => Promise.reject(new Error("not used")),
    };
    const status = new StatusFixture("gw-1", []);
    const updates = new UpdateManager({
      settings: updateSchema.parse({ enabled: true, deferMaxMinutes: 30 }),
      stateDir: temp.dir,
      runningVersion: "1.0.0",
      releaseKey: key.publicKey,
      jobs,
      status,
      excursions: options.excursions,
      captured: () => 0,
      delivered: () => 0,
      clock: { now: () => Date.now(), monotonic: () => Date.now() },
      logger: pino({ level: "silent" }),
      metrics: new Metrics(),
      pollMs: 10_000,
    });
    return { updates, sent, steps: () => sent.map((s) => s.details.step) };
  }

  it("waits while an excursion is open, says so once, and goes on when it closes", async () => {
    let open = ["C1"];
    const { updates, steps, sent } = manager({ excursions: () => open });
    updates.next(job());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(steps()).toEqual(["deferred"]);
    expect(sent[0]?.details.reason).toBe("an excursion is open in C1");
    open = [];
    await vi.advanceTimersByTimeAsync(10_000);
    await settled(() => steps().length === 3);
    expect(steps()).toEqual(["deferred", "downloading", "installing"]);
    expect(readHandoff(handoffPath(temp.dir, "request"), installRequestSchema)).toMatchObject({
      jobId: "job-1",
      version: "2.0.0",
      previousVersion: "1.0.0",
    });
    await updates.stop();
  });

  it("goes ahead after deferMaxMinutes even if the excursion stays open", async () => {
    const { updates, steps } = manager({ excursions: () => ["C1"] });
    updates.next(job());
    await vi.advanceTimersByTimeAsync(29 * 60_000);
    expect(steps()).toEqual(["deferred"]);
    expect(existsSync(handoffPath(temp.dir, "request"))).toBe(false);
    await vi.advanceTimersByTimeAsync(2 * 60_000);
    await settled(() => steps().length === 3);
    expect(steps()).toEqual(["deferred", "downloading", "installing"]);
    expect(existsSync(handoffPath(temp.dir, "request"))).toBe(true);
    await updates.stop();
  });

  it("sends a status again until the link carries it, never skipping a step", async () => {
    const { updates, steps } = manager({ excursions: () => [], offlineFor: 3 });
    updates.next(job());
    await vi.advanceTimersByTimeAsync(20_000);
    expect(steps()).toEqual([]);
    expect(existsSync(handoffPath(temp.dir, "request"))).toBe(false);
    await vi.advanceTimersByTimeAsync(20_000);
    await settled(() => steps().length === 2);
    expect(steps()).toEqual(["downloading", "installing"]);
    await updates.stop();
  });

  it("hands over again when a power cut fell between the job's record and the request", async () => {
    // The record says handed off, but no request was written and the old version runs.
    writeDurably(handoffPath(temp.dir, "job"), {
      jobId: "job-1",
      version: "2.0.0",
      step: "handed-off",
    });
    const { updates, steps } = manager({ excursions: () => [] });
    updates.next(job());
    await settled(() => steps().length === 2);
    expect(steps()).toEqual(["downloading", "installing"]);
    expect(readHandoff(handoffPath(temp.dir, "request"), installRequestSchema)).toMatchObject({
      jobId: "job-1",
      version: "2.0.0",
    });
    await updates.stop();
  });

  it("waits for the installer when the record and the request are both there", async () => {
    const { updates, steps } = manager({ excursions: () => [] });
    updates.next(job());
    await settled(() => steps().length === 2);
    await updates.stop();
    // A restart of the agent, the installer not yet at work: nothing is sent or written again.
    const again = manager({ excursions: () => [] });
    again.updates.next(job());
    await vi.advanceTimersByTimeAsync(30_000);
    expect(again.steps()).toEqual([]);
    await again.updates.stop();
  });

  it("takes a job up again a minute after an attempt that threw, and ends it from the installer's result", async () => {
    // The installer's result cannot be read (here a folder where the file should be; in the
    // power-cut rig, a result.json only root could read): the attempt throws.
    const result = handoffPath(temp.dir, "result");
    mkdirSync(result);
    const { updates, sent } = manager({ excursions: () => [] });
    updates.next(job());
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent).toEqual([]);
    // The installer writes its result as it should; the next attempt reads it.
    rmSync(result, { recursive: true });
    writeDurably(result, {
      jobId: "job-1",
      outcome: "kept",
      version: "2.0.0",
      reason: "2.0.0 captured 9 readings, healthy and with no restart, through a 10 s soak",
      finishedAt: Date.now(),
    });
    await vi.advanceTimersByTimeAsync(60_000);
    await settled(() => sent.length === 1);
    expect(sent).toEqual([
      {
        status: "SUCCEEDED",
        details: expect.objectContaining({ step: "kept", version: "2.0.0" }) as StatusDetails,
      },
    ]);
    await updates.stop();
  });

  it("drops a job ended elsewhere before the hand-off, with its files", async () => {
    const { updates, steps } = manager({ excursions: () => ["C1"] });
    updates.next(job());
    await vi.advanceTimersByTimeAsync(10_000);
    expect(steps()).toEqual(["deferred"]);
    updates.next(null);
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(steps()).toEqual(["deferred"]);
    expect(existsSync(handoffPath(temp.dir, "job"))).toBe(false);
    expect(existsSync(handoffPath(temp.dir, "request"))).toBe(false);
    await updates.stop();
  });
});
