import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, statSync } from "node:fs";
import type { GuestDisks, GuestKernel } from "./guest-image.js";

export interface GuestOptions {
  readonly qemu: string;
  readonly kernel: GuestKernel;
  readonly disks: GuestDisks;
  /** The console (ttyS0): the kernel's, systemd's and the agent's log. Appended boot after boot. */
  readonly console: string;
  /** The second serial port (ttyS1): the agent's captured report. Appended boot after boot. */
  readonly report: string;
}

/**
 * One power-on of the guest under qemu (TCG: KVM hangs nested on these machines), with its two
 * virtio disks, its network qemu's user mode (the host is 10.0.2.2), and its serial ports
 * written to files on the host, which outlive the guest. `cut` is a power cut: qemu killed with
 * SIGKILL, the guest's page cache and whatever was in flight gone.
 *
 * The disks are at `cache=unsafe`: qemu ignores the guest's flushes. For a cut by SIGKILL that
 * loses nothing a stricter mode would keep: every write qemu has handed to the host survives the
 * process's death in any cache mode (the host does not lose power), and every write the guest had
 * not handed to its disk is gone in any mode. What the flushes cost under the other modes (a host
 * fdatasync each; dpkg flushes every one of a package's 11,000 files) only slowed the cycles.
 * The strict case, a disk that forgets what was not flushed, is the FUSE rig's.
 */
export class Guest {
  private constructor(
    private readonly process: ChildProcess,
    private readonly consoleFile: string,
    private readonly consoleFrom: number,
    readonly exited: Promise<number | null>,
  ) {}

  static boot(options: GuestOptions): Guest {
    // A line that a cut broke off must not run into the next boot's first one.
    for (const file of [options.console, options.report]) endLine(file);
    const consoleFrom = existsSync(options.console) ? statSync(options.console).size : 0;
    const drive = (file: string) => `file=${file},format=raw,if=virtio,cache=unsafe`;
    const child = spawn(
      options.qemu,
      [
        ...["-accel", "tcg", "-cpu", "max", "-m", "768", "-smp", "1"],
        ...["-display", "none", "-no-reboot", "-nodefaults"],
        ...["-kernel", options.kernel.kernel, "-initrd", options.kernel.initrd],
        "-append",
        // no_timer_check: under emulation on a busy host the kernel's check of the IO-APIC
        // timer can fail and panic the boot ("IO-APIC + timer doesn't work!", seen once with
        // a fleet test beside the bench); virtual machines skip that check.
        "root=/dev/vda rw console=ttyS0 panic=-1 net.ifnames=0 quiet no_timer_check",
        ...["-drive", drive(options.disks.root), "-drive", drive(options.disks.outbox)],
        ...["-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"],
        ...["-chardev", `file,id=console,path=${options.console},append=on`],
        ...["-serial", "chardev:console"],
        ...["-chardev", `file,id=report,path=${options.report},append=on`],
        ...["-serial", "chardev:report"],
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    const exited = new Promise<number | null>((resolve) => {
      child.once("exit", (code) => {
        if (code !== null && code !== 0) console.warn(`qemu exited ${code}: ${stderr}`);
        resolve(code);
      });
    });
    return new Guest(child, options.console, consoleFrom, exited);
  }

  /** What the console said since this power-on. */
  console(): string {
    if (!existsSync(this.consoleFile)) return "";
    return readFileSync(this.consoleFile).subarray(this.consoleFrom).toString("utf8");
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The power cut: no shutdown, no flush. */
  async cut(): Promise<void> {
    if (this.running) this.process.kill("SIGKILL");
    await this.exited;
  }
}

function endLine(file: string): void {
  if (!existsSync(file)) return;
  const text = readFileSync(file);
  if (text.length > 0 && text[text.length - 1] !== 0x0a) appendFileSync(file, "\n");
}
