import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The FUSE daemon, whether this file runs from source (tests) or from dist/ (benchmarks). */
const DAEMON = fileURLToPath(
  new URL(
    import.meta.url.includes("/dist/")
      ? "../../../test/powercut/powercut_fs.py"
      : "./powercut_fs.py",
    import.meta.url,
  ),
);

/** Debian's Python, which python3-pyfuse3 installs into (not a pyenv or venv one). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

/** Whether this machine can run the disk: /dev/fuse, root, and pyfuse3 for Debian's Python. */
export function powerCutDiskProblem(): string | null {
  if (process.getuid?.() !== 0) return "needs root (it mounts a FUSE file system)";
  const probe = spawnSync(SYSTEM_PYTHON, ["-c", "import pyfuse3, trio"], { encoding: "utf8" });
  if (probe.status !== 0)
    return "needs python3-pyfuse3 and fuse3 (apt-get install -y fuse3 python3-pyfuse3)";
  return null;
}

/**
 * A disk that loses power (powercut_fs.py): writes are durable only once synced, and a cut
 * freezes it and keeps only what was. One instance is one power-on; after a cut (or an exit)
 * mount the state folder again with a new one.
 */
export class PowerCutDisk {
  private output = "";
  private stderr = "";
  private exiting = false;
  private readonly waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly mountpoint: string,
  ) {
    child.stdout?.on("data", (chunk: Buffer) => {
      this.output += chunk.toString();
      for (const w of [...this.waiters]) {
        const line = this.output.split("\n").find((l) => w.pattern.test(l));
        if (line !== undefined) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  static async mount(
    stateDir: string,
    mountpoint: string,
    options: { tear?: boolean; seed?: number } = {},
  ): Promise<PowerCutDisk> {
    const args = [DAEMON, stateDir, mountpoint, "--seed", String(options.seed ?? 0)];
    if (options.tear) args.push("--tear");
    const child = spawn(SYSTEM_PYTHON, args, { stdio: ["pipe", "pipe", "pipe"] });
    const disk = new PowerCutDisk(child, mountpoint);
    await disk.waitFor(/^READY$/);
    return disk;
  }

  /**
   * Resolves with the first line of the daemon's output matching `pattern`, now or later;
   * rejects with its stderr if it exits first (a bug of the rig must not pass for a hang).
   */
  waitFor(pattern: RegExp): Promise<string> {
    const line = this.output.split("\n").find((l) => pattern.test(l));
    if (line !== undefined) return Promise.resolve(line);
    return Promise.race([
      new Promise<string>((resolve) => this.waiters.push({ pattern, resolve })),
      this.exited.then((code) => {
        throw new Error(
          `the power-cut disk exited (${String(code)}) before ${pattern}:\n${this.stderr}`,
        );
      }),
    ]);
  }

  /** The daemon died by itself (a rig bug): its stderr, else null. */
  get crash(): string | null {
    return this.child.exitCode !== null && !this.exiting
      ? this.stderr || `exit ${this.child.exitCode}`
      : null;
  }

  private send(command: string): void {
    this.child.stdin?.write(command + "\n");
  }

  /** Cuts the power now; resolves once the state is written ("CUT"). */
  async cut(): Promise<string> {
    this.send("cut");
    return this.waitFor(/^CUT /);
  }

  /** Cuts at the `n`th `op` of a file whose name ends with `suffix`, before it happens. */
  arm(
    op: "write" | "fsync" | "create" | "rename" | "unlink" | "truncate",
    suffix: string,
    n: number,
  ) {
    this.send(`arm ${op} ${suffix} ${n}`);
  }

  /** Answers `op` with `errno` at `rate` (0 stops it). */
  fail(op: "write" | "fsync" | "open", errno: "EIO" | "ENOSPC" | "EROFS", rate: number): void {
    this.send(`fail ${op} ${errno} ${rate}`);
  }

  /** Whether a cut has happened. */
  get isCut(): boolean {
    return /^CUT /m.test(this.output);
  }

  /** The cut's line ("CUT fsync outbox.db-wal"), once cut. */
  get cutLine(): string | null {
    return /^CUT .*$/m.exec(this.output)?.[0] ?? null;
  }

  /** Unmounts and ends the daemon (after a cut: once nothing uses the mount any more). */
  async unmount(): Promise<void> {
    this.exiting = true;
    this.send("exit");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
    // A daemon killed while frozen leaves the mount behind: detach it.
    spawnSync("fusermount3", ["-u", "-z", this.mountpoint]);
  }
}
