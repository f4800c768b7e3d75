import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { once } from "node:events";

/**
 * A serial line made of a pty pair by socat: the gateway's end and the device's end appear as
 * two stable link names, like an adapter's /dev/serial/by-id path. Killing socat is pulling the
 * USB adapter (both ends vanish, the open port starts failing with EIO); starting it again on
 * the same names is plugging it back in, where the ptys behind the names are new ones.
 */
export class SerialLink {
  readonly gatewayPath: string;
  readonly devicePath: string;
  private socat: ChildProcess | null = null;

  constructor(
    private readonly socatBinary: string,
    dir: string,
  ) {
    this.gatewayPath = join(dir, "ttyGATEWAY");
    this.devicePath = join(dir, "ttyDEVICE");
  }

  get plugged(): boolean {
    return this.socat !== null;
  }

  async plug(): Promise<void> {
    if (this.socat) return;
    const socat = spawn(
      this.socatBinary,
      [`pty,raw,echo=0,link=${this.gatewayPath}`, `pty,raw,echo=0,link=${this.devicePath}`],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    socat.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    this.socat = socat;
    const deadline = Date.now() + 5000;
    while (!existsSync(this.gatewayPath) || !existsSync(this.devicePath)) {
      if (socat.exitCode !== null || Date.now() > deadline) {
        this.socat = null;
        socat.kill("SIGKILL");
        throw new Error(`socat did not create the pty pair: ${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Pulls the adapter: socat exits and removes both link names. */
  async unplug(): Promise<void> {
    const socat = this.socat;
    if (!socat) return;
    this.socat = null;
    const exited = once(socat, "exit");
    socat.kill("SIGTERM");
    await exited;
  }
}
