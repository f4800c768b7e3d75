import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetReport } from "../../fleet/report.js";
import { freePort } from "../support/ports.js";
import { makeTempDir } from "../support/tmp.js";
import { requireRoot, requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";

const run = promisify(execFile);
const repo = fileURLToPath(new URL("../..", import.meta.url));
const podman = requireTool("podman", "apt-get install -y podman (see .ci/run)");
const compose = requireTool("docker-compose", "apt-get install -y docker-compose");
const debootstrap = requireTool("debootstrap", "apt-get install -y debootstrap");
const root = requireRoot("the container fleet (rootful podman)");
const skip = podman.skip || compose.skip || debootstrap.skip || root.skip;

/** A command's output and errors, for a failure's detail (never throws). */
function shSync(command: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(command, args, {
    cwd: repo,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return `${result.stdout}${result.stderr}${result.error ? String(result.error) : ""}`.slice(-4000);
}

/** A command's output; its stderr in the error when it fails. */
async function sh(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeout = 900_000,
): Promise<string> {
  try {
    const { stdout } = await run(command, args, {
      cwd: repo,
      env: { ...process.env, ...env },
      maxBuffer: 64 * 2 ** 20,
      timeout,
    });
    return stdout;
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(" ")} failed:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`,
    );
  }
}

/**
 * The compose fleet under podman, as CI runs it: base images made here (no registry), the
 * agent's image built from them, and deploy/docker/compose.yaml driven by docker-compose v1
 * through podman's socket: 2 shards × 50 gateways for a minute with a broker restart in the
 * middle, then `down`. Every seq the shards captured is in the observer's record, and each shard
 * stopped gracefully: it drained and wrote its report before it exited.
 */
describe.skipIf(skip)("the fleet in containers (podman, docker-compose)", () => {
  const temp = makeTempDir("reefer-edge-compose-");
  const project = `reefer${process.pid}`;
  let env: NodeJS.ProcessEnv = {};
  let socket: ReturnType<typeof import("node:child_process").spawn> | null = null;

  beforeAll(async () => {
    const socketPath = join(temp.dir, "podman.sock");
    const { spawn } = await import("node:child_process");
    socket = spawn(
      podman.path ?? "podman",
      ["system", "service", "--time=0", `unix://${socketPath}`],
      {
        stdio: "ignore",
      },
    );
    const observed = join(temp.dir, "observed");
    mkdirSync(observed);
    env = {
      DOCKER_HOST: `unix://${socketPath}`,
      COMPOSE_PROJECT_NAME: project,
      BROKER_PORT: String(await freePort()),
      OBSERVED_DIR: observed,
    };
  }, 60_000);

  afterAll(async () => {
    await sh(
      compose.path ?? "docker-compose",
      ["-f", "deploy/docker/compose.yaml", "down", "-v"],
      env,
    ).catch(() => undefined);
    socket?.kill();
    temp.cleanup();
  }, 120_000);

  it(
    "delivers every seq of 2 shards × 50 gateways across a broker restart, and `down` stops them gracefully",
    { timeout: 1_500_000 },
    async () => {
      await sh("bash", ["deploy/docker/make-base.sh", "podman"]);
      await sh(podman.path ?? "podman", [
        "build",
        // Docker's format keeps the HEALTHCHECK (OCI's has none); the build's npm uses the host's
        // network as npm here does (no container network is needed).
        "--format",
        "docker",
        "--network=host",
        "--build-arg",
        "BUILD_BASE=localhost/reefer-edge-base:node22-build",
        "--build-arg",
        "BASE=localhost/reefer-edge-base:node22",
        "-f",
        "deploy/docker/Dockerfile",
        "-t",
        "localhost/reefer-edge:latest",
        ".",
      ]);
      const size = Number(
        (
          await sh(podman.path ?? "podman", [
            "image",
            "inspect",
            "--format",
            "{{.Size}}",
            "localhost/reefer-edge:latest",
          ])
        ).trim(),
      );
      const user = (
        await sh(podman.path ?? "podman", [
          "image",
          "inspect",
          "--format",
          "{{.Config.User}}",
          "localhost/reefer-edge:latest",
        ])
      ).trim();
      expect(user).toBe("reefer");

      const composeArgs = ["-f", "deploy/docker/compose.yaml"];
      await sh(compose.path ?? "docker-compose", [...composeArgs, "up", "-d"], env);
      const upAt = Date.now();
      const observed = join(env.OBSERVED_DIR ?? "", "messages.txt");
      const lines = () => {
        try {
          return readFileSync(observed, "utf8").split("\n").filter(Boolean);
        } catch {
          return [];
        }
      };
      // All 100 gateways publish before the clock starts.
      const gatewaysSeen = () => new Set(lines().map((l) => l.split("/")[2])).size;
      // A deadline for a fleet that does not come up, not a pace: beside the guest's qemu and
      // the update suite on 2 cores, 240 s was once not enough for 100 agents to start.
      await waitFor("100 gateways", () => gatewaysSeen() >= 100, 600_000, {
        // What a failure needs to be read: how far the fleet got, and what the services said.
        detail: () =>
          `${gatewaysSeen()} gateways seen, ${lines().length} messages\n` +
          shSync(compose.path ?? "docker-compose", [...composeArgs, "ps"], env) +
          shSync(compose.path ?? "docker-compose", [...composeArgs, "logs", "--tail=15"], env),
      });
      const allUpSeconds = (Date.now() - upAt) / 1000;
      // The fleet runs for 1,250 messages (25 s at 50 a second), the broker restarts, and it runs
      // for 1,500 more (30 s): counted at the observer, not timed. Together they are more than
      // the 2,500 readings asserted below.
      const beforeRestart = lines().length;
      await waitFor("1,250 messages", () => lines().length >= beforeRestart + 1250, 300_000, {
        everyMs: 500,
      });
      await sh(compose.path ?? "docker-compose", [...composeArgs, "restart", "broker"], env);
      const afterRestart = lines().length;
      await waitFor(
        "1,500 messages after the broker's restart",
        () => lines().length >= afterRestart + 1500,
        300_000,
        { everyMs: 500 },
      );
      await sh(compose.path ?? "docker-compose", [...composeArgs, "down"], env, 300_000);

      // Each shard's report is on its volume (kept by `down` without -v).
      const reports: FleetReport[] = [];
      for (const shard of ["shard-1", "shard-2"]) {
        const mount = (
          await sh(podman.path ?? "podman", [
            "volume",
            "inspect",
            "--format",
            "{{.Mountpoint}}",
            `${project}_${shard}`,
          ])
        ).trim();
        const dir = join(mount, "fleet", "reports");
        const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
        expect(files.length, `${shard} wrote no report: it did not stop gracefully`).toBe(1);
        reports.push(JSON.parse(readFileSync(join(dir, files[0] ?? ""), "utf8")) as FleetReport);
      }
      expect(reports.map((r) => r.gateways)).toEqual([50, 50]);
      expect(reports.every((r) => r.backlogLeft === 0 && r.drainSeconds !== null)).toBe(true);

      const received = new Map<string, Set<number>>();
      for (const line of lines()) {
        const space = line.indexOf(" ");
        const topic = line.slice(0, space);
        const body = JSON.parse(line.slice(space + 1)) as
          | { container_id: string; seq: number }
          | { readings: { container_id: string; seq: number }[] };
        const readings = topic.endsWith("/backfill")
          ? (body as { readings: { container_id: string; seq: number }[] }).readings
          : [body as { container_id: string; seq: number }];
        for (const r of readings) {
          const seqs = received.get(r.container_id) ?? new Set<number>();
          seqs.add(r.seq);
          received.set(r.container_id, seqs);
        }
      }
      const missing = reports.flatMap((report) =>
        report.perGateway.flatMap((g) =>
          g.containers.flatMap((range) => {
            const lost: string[] = [];
            for (let seq = range.first; seq <= range.last; seq++) {
              if (!received.get(range.id)?.has(seq)) lost.push(`${range.id}#${seq}`);
            }
            return lost;
          }),
        ),
      );
      expect(missing.slice(0, 20)).toEqual([]);
      const captured = reports.reduce((sum, r) => sum + r.captured, 0);
      expect(captured).toBeGreaterThanOrEqual(100 * 25);
      console.log(
        `compose fleet: image ${(size / 2 ** 20).toFixed(0)} MB, all 100 gateways publishing ${allUpSeconds.toFixed(1)} s after \`up\`, ${captured} readings from them in 2 shards, ` +
          `every seq observed across a broker restart; drain ${reports.map((r) => r.drainSeconds).join(" s, ")} s`,
      );
    },
  );
});
