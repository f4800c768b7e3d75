import { rmSync, writeFileSync } from "node:fs";

/**
 * A file of real bytes kept beside the database. When the disk fills up, deleting it gives
 * SQLite the room to checkpoint and delete rows (on a full disk even a DELETE needs space in the
 * WAL); it is taken again once the disk has room. Hand-written: it is two file calls, and the
 * technique (a reserve or "ballast" file) is what databases on small disks do.
 */
export class SpaceReserve {
  held = false;

  constructor(
    private readonly file: string,
    private readonly bytes: number,
  ) {}

  /** Writes the reserve; false when the disk has no room for it (it is tried again later). */
  take(): boolean {
    if (this.bytes === 0) return false;
    try {
      writeFileSync(this.file, zeros(this.bytes));
      this.held = true;
    } catch {
      this.held = false;
      try {
        rmSync(this.file, { force: true });
      } catch {
        // a file system gone read-only: nothing to give back either
      }
    }
    return this.held;
  }

  release(): void {
    rmSync(this.file, { force: true });
    this.held = false;
  }
}

let shared = Buffer.alloc(0);

/** One zeroed buffer for every reserve of the process (a fleet worker takes thousands). */
function zeros(bytes: number): Buffer {
  if (shared.length < bytes) shared = Buffer.alloc(bytes);
  return shared.subarray(0, bytes);
}
