/** A tick that could not be captured because the disk stayed full after making room. */
export class DiskFullError extends Error {
  constructor(
    readonly readings: number,
    readonly alerts: number,
  ) {
    super(`disk full: ${readings} readings and ${alerts} alerts could not be captured`);
    this.name = "DiskFullError";
  }
}

/** SQLite's answer when the disk (or the file's quota) has no room left. */
export function isDiskFull(error: unknown): boolean {
  return (error as { code?: unknown }).code === "SQLITE_FULL";
}
