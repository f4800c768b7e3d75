import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A command's outcome inside the booted system. */
export interface ExecResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A Debian system booted with systemd as its PID 1, as a gateway runs: this machine's own root
 * file system under a copy-on-write overlay (nothing the test installs reaches the host), booted
 * by systemd-nspawn into a target with the base system only (no host service starts and takes a
 * port: the container shares the host's network, so it reaches the test's broker on loopback).
 * Commands run inside through nsenter, as an operator's shell would.
 *
 * Why not podman or a debootstrap image: the overlay needs no download, and nspawn is systemd's
 * own container manager, so the unit runs under the same systemd (and sandboxing) as the host's.
 */
export class BootedSystem {
  private constructor(
    private readonly dir: string,
    /** The system's root as the host sees it: files written here are in the system. */
    readonly root: string,
    private readonly nspawn: ChildProcess,
    private readonly leader: number,
    private readonly console: { text: string },
  ) {}

  /** Boots a system in `dir` (an empty folder on a local disk) and waits until it is up. */
  static async boot(dir: string): Promise<BootedSystem> {
    const layers = { upper: join(dir, "upper"), work: join(dir, "work"), root: join(dir, "root") };
    for (const layer of Object.values(layers)) mkdirSync(layer, { recursive: true });
    run("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=/,upperdir=${layers.upper},workdir=${layers.work}`,
      layers.root,
    ]);
    writeFileSync(
      join(layers.root, "etc/systemd/system/reefer-test.target"),
      "[Unit]\nDescription=The base system only, for reefer-edge's package tests\n" +
        "Requires=basic.target\nAfter=basic.target\nAllowIsolate=yes\n",
    );
    // --register=no and --keep-unit: no machined or D-Bus on the host is needed.
    const nspawn = spawn(
      "systemd-nspawn",
      [
        "-D",
        layers.root,
        "--boot",
        "--register=no",
        "--keep-unit",
        "--link-journal=no",
        `--machine=reefer-${randomBytes(3).toString("hex")}`,
        "--",
        "systemd.unit=reefer-test.target",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const console = { text: "" };
    const keep = (chunk: Buffer) =>
      (console.text = (console.text + chunk.toString()).slice(-20_000));
    nspawn.stdout.on("data", keep);
    nspawn.stderr.on("data", keep);
    const leader = await findInit(nspawn, console);
    const system = new BootedSystem(dir, layers.root, nspawn, leader, console);
    // "running", or "degraded" when some base unit failed: either way systemd took its jobs.
    // Until systemd has opened its socket, systemctl cannot ask and says nothing on stdout, or
    // says "offline" (no manager answers yet: seen in CI with two systems booting at once).
    const notYet = (stdout: string) => ["", "offline"].includes(stdout.trim());
    let state = await system.exec(["systemctl", "is-system-running", "--wait"]);
    for (let attempt = 0; attempt < 300 && notYet(state.stdout); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      state = await system.exec(["systemctl", "is-system-running", "--wait"]);
    }
    if (!/running|degraded/.test(state.stdout)) {
      await system.shutdown();
      throw new Error(
        `the booted system is "${state.stdout.trim()}" (${state.stderr.trim()}):\n${console.text}`,
      );
    }
    return system;
  }

  /**
   * Runs a command inside, as root, with a clean environment. Asynchronous, never spawnSync:
   * the test's own broker proxy and monitor live in this process and must go on serving while
   * the command (a doctor's TLS handshake, an upgrade) talks to them.
   */
  exec(command: readonly string[]): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        "nsenter",
        ["-t", String(this.leader), "-m", "-u", "-i", "-n", "-p", "--", ...command],
        {
          env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", SYSTEMD_PAGER: "" },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.once("error", reject);
      child.once("close", (status) => resolve({ status, stdout, stderr }));
    });
  }

  /** Runs a command inside and throws with its output unless it exits 0. */
  async must(command: readonly string[]): Promise<string> {
    const result = await this.exec(command);
    if (result.status !== 0) {
      throw new Error(
        `${command.join(" ")} exited ${String(result.status)}:\n${result.stdout}\n${result.stderr}`,
      );
    }
    return result.stdout;
  }

  /** The unit's journal and the system's console, for a failing assertion's message. */
  async journal(unit: string): Promise<string> {
    const journal = (await this.exec(["journalctl", "--no-pager", "-o", "cat", "-u", unit])).stdout;
    return `journal of ${unit}:\n${journal.slice(-6000)}\nconsole:\n${this.console.text.slice(-2000)}`;
  }

  /** Powers the system off, then removes the overlay and everything written into it. */
  async shutdown(): Promise<void> {
    if (this.nspawn.exitCode === null) {
      const exited = new Promise((resolve) => this.nspawn.once("exit", resolve));
      await this.exec(["systemctl", "poweroff", "--no-block"]);
      const timer = setTimeout(() => this.nspawn.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
    spawnSync("umount", [this.root]);
    if (spawnSync("mountpoint", ["-q", this.root]).status === 0)
      spawnSync("umount", ["-l", this.root]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function run(command: string, args: readonly string[]): void {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")}: ${result.stderr || `exit ${String(result.status)}`}`,
    );
  }
}

/** The container's PID 1 (systemd) as the host numbers it: nspawn's child. */
async function findInit(nspawn: ChildProcess, console: { text: string }): Promise<number> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (nspawn.exitCode !== null) throw new Error(`systemd-nspawn exited:\n${console.text}`);
    const pid = nspawn.pid ?? 0;
    for (const task of safeReaddir(`/proc/${pid}/task`)) {
      for (const child of safeRead(`/proc/${pid}/task/${task}/children`).split(" ")) {
        if (child && safeRead(`/proc/${child}/comm`).trim() === "systemd") return Number(child);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  nspawn.kill("SIGKILL");
  throw new Error(`no systemd inside systemd-nspawn after 30 s:\n${console.text}`);
}

function safeReaddir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
