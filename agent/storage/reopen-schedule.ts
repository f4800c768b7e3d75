import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { Outbox } from "../outbox/outbox.js";

/**
 * When to try the outbox's storage again after it failed, and whether what is at its path now
 * is the disk it was: a wait that doubles between attempts up to its longest, one attempt at a
 * time, and the device of the outbox's folder while it worked (a card's mount point left empty
 * is another device, and a fresh outbox there would vanish under the card once it is mounted).
 */
export class ReopenSchedule {
  private timer: NodeJS.Timeout | null = null;
  private delay: number;
  private device: number | null = null;
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly retryMs: { readonly first: number; readonly max: number },
    private readonly attempt: () => void,
  ) {
    this.delay = retryMs.first;
  }

  /** An attempt after the current wait, which then doubles; nothing if one is already due. */
  schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.attempt();
    }, this.delay);
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, this.retryMs.max);
  }

  /** The outbox is open: the next failure waits the first wait again; its device is noted. */
  opened(): void {
    this.delay = this.retryMs.first;
    if (this.path !== ":memory:") this.device = deviceOf(dirname(this.path));
  }

  /** The file is gone and its folder is on another file system: a mount point left empty. */
  get mountPointLeftEmpty(): boolean {
    return (
      this.device !== null && !existsSync(this.path) && deviceOf(dirname(this.path)) !== this.device
    );
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

function deviceOf(path: string): number | null {
  try {
    return statSync(path).dev;
  } catch {
    return null;
  }
}

/** Closes an outbox whose disk failed: whatever the close itself fails at is past saving. */
export function letGo(outbox: Outbox): void {
  try {
    outbox.close();
  } catch {
    // the file is gone or read-only: SQLite could not checkpoint; nothing more to do
  }
}
