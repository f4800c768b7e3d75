/**
 * What a failing disk answers, as SQLite and Node report it: the outbox goes on in memory (see
 * GuardedOutbox) instead of failing every tick. A full disk is not among them: the outbox meets
 * it by evicting (DiskFullError), and a locked database is another agent's, not a broken disk.
 */
const SQLITE_PREFIXES = ["SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_CORRUPT"];
const SQLITE_CODES = new Set(["SQLITE_NOTADB"]);
/**
 * EIO: the card's controller failed; EROFS: ext4 remounted itself read-only after an error;
 * ENOENT, ENODEV, ENXIO, ESTALE: the card or its file system is gone; ENOTCONN: a FUSE file
 * system whose daemon died (the power-cut rig's, or a network mount's).
 */
const ERRNO_CODES = new Set(["EIO", "EROFS", "ENOENT", "ENODEV", "ENXIO", "ESTALE", "ENOTCONN"]);

export function isStorageFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return (
    SQLITE_CODES.has(code) ||
    ERRNO_CODES.has(code) ||
    SQLITE_PREFIXES.some((prefix) => code.startsWith(prefix))
  );
}

/** One line for the alert and the log: the code and SQLite's or the kernel's words. */
export function describeStorageFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}
