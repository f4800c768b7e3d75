import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  handoffPath,
  installResultSchema,
  readHandoff,
  writeDurably,
} from "../agent/update/handoff.js";
import { makeTempDir } from "../test/support/tmp.js";
import { fleetPackage, FleetInstaller, type InstallTarget } from "./fleet-installer.js";

/**
 * The in-memory installer of a fleet rehearsal on real files: the agent's request and package
 * as the agent writes them, the result as the agent reads it, the time a clock of the test's.
 */
describe("the fleet's in-memory installer", () => {
  const temp = makeTempDir();
  afterEach(() => temp.cleanup());
  let now = 1_000_000;

  function gateway(behaviour: "good" | "crash") {
    const stateDir = join(temp.dir, behaviour);
    mkdirSync(stateDir, { recursive: true });
    const body = fleetPackage("9.0.0", behaviour, 1024);
    const file = join(stateDir, "reefer-edge_9.0.0.deb");
    writeFileSync(file, body);
    writeDurably(handoffPath(stateDir, "request"), {
      jobId: "job-1",
      version: "9.0.0",
      package: file,
      sha256: createHash("sha256").update(body).digest("hex"),
      previousVersion: "0.1.0",
      size: body.length,
      signature: "c2ln",
      soakSeconds: 10,
      maxRssBytes: 256 * 2 ** 20,
      requestedAt: now,
    });
    const log: string[] = [];
    const target: InstallTarget = {
      id: behaviour,
      stateDir,
      stop: () => {
        log.push("stop");
        return Promise.resolve();
      },
      start: (version) => log.push(`start ${version}`),
    };
    const result = () => readHandoff(handoffPath(stateDir, "result"), installResultSchema);
    return { target, log, result, stateDir };
  }

  it("installs a good release, and keeps it on a healthy report written after the soak", async () => {
    const installer = new FleetInstaller(() => now);
    const { target, log, result, stateDir } = gateway("good");
    await installer.tick([target]);
    expect(log).toEqual(["stop", "start 9.0.0"]);
    expect(installer.stats()).toMatchObject({ installing: 1, installed: 1 });
    const report = (at: number) =>
      writeDurably(handoffPath(stateDir, "soak"), {
        jobId: "job-1",
        version: "9.0.0",
        pid: 1,
        at,
        healthy: true,
        reason: null,
        captured: 12,
        delivered: 12,
        connected: true,
        backlog: 0,
        rssBytes: 1,
      });
    // A report from inside the soak does not keep it.
    now += 5_000;
    report(now);
    await installer.tick([target]);
    expect(result()).toBeNull();
    now += 6_000;
    report(now);
    await installer.tick([target]);
    expect(result()).toMatchObject({ jobId: "job-1", outcome: "kept", version: "9.0.0" });
    expect(installer.stats()).toMatchObject({ installing: 0, kept: 1, rolledBack: 0 });
  });

  it("goes back by itself from a release that never starts, after the soak", async () => {
    const installer = new FleetInstaller(() => now);
    const { target, log, result } = gateway("crash");
    await installer.tick([target]);
    expect(log).toEqual(["stop"]);
    now += 9_000;
    await installer.tick([target]);
    expect(result()).toBeNull();
    now += 2_000;
    await installer.tick([target]);
    await expect
      .poll(() => result())
      .toMatchObject({
        outcome: "rolled-back",
        version: "0.1.0",
        reason: "9.0.0 did not start in its soak; 0.1.0 reinstalled",
      });
    expect(log).toEqual(["stop", "stop", "start 0.1.0"]);
    expect(installer.stats()).toMatchObject({ rolledBack: 1, slowestRollbackMs: 11_000 });
  });

  it("refuses a package whose SHA-256 is not the request's", async () => {
    const installer = new FleetInstaller(() => now);
    const { target, log, result, stateDir } = gateway("good");
    writeFileSync(join(stateDir, "reefer-edge_9.0.0.deb"), "tampered");
    await installer.tick([target]);
    expect(log).toEqual([]);
    expect(result()).toMatchObject({ outcome: "refused", version: "0.1.0" });
  });
});
