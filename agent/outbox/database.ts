import Database from "better-sqlite3";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { CLOCK_FLOOR_MS } from "../../core/clock.js";
import { OutboxLock, type AttachedLock } from "./outbox-lock.js";
import { dirname } from "node:path";

export type Durability = "full" | "normal";

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Never edit a
 * shipped migration: gateways in the field have run it. Add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE sequences (
    container_id TEXT PRIMARY KEY,
    last_seq     INTEGER NOT NULL
  ) STRICT;

  -- AUTOINCREMENT: ids are never reused after deletes, so id order is capture order for good.
  CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    lane         INTEGER NOT NULL,          -- 0 alert, 1 telemetry
    container_id TEXT    NOT NULL,
    seq          INTEGER,                   -- telemetry only
    captured_at  INTEGER NOT NULL,          -- wall clock, ms
    bytes        INTEGER NOT NULL,
    payload      TEXT    NOT NULL
  ) STRICT;
  CREATE INDEX outbox_by_lane ON outbox (lane, id);
  CREATE INDEX outbox_by_container ON outbox (container_id, id) WHERE lane = 1;

  CREATE TABLE dead_letter (
    id           INTEGER PRIMARY KEY,
    lane         INTEGER NOT NULL,
    container_id TEXT    NOT NULL,
    seq          INTEGER,
    captured_at  INTEGER NOT NULL,
    payload      TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    failed_at    INTEGER NOT NULL
  ) STRICT;

  -- Durable counts of what left the outbox other than by delivery (evictions, dead letters).
  CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT;
  `,
  `
  -- Facts about this database file; seq_base: where sequences start (see openOutboxDatabase).
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT;
  `,
  `
  -- Readings captured while the wall clock was not trusted: the ClockGuard epoch of this process.
  ALTER TABLE outbox ADD COLUMN clock_epoch INTEGER;
  CREATE INDEX outbox_by_clock_epoch ON outbox (clock_epoch) WHERE clock_epoch IS NOT NULL;
  `,
  `
  -- The cold-chain audit log (docs/audit-log.md): its size and compact range (the subtree
  -- hashes) are a row of sequences, '#log' (no container id starts with '#'), rewritten in each
  -- capture's transaction. There, and not in a table of its own, because a commit already
  -- rewrites the sequences page: a table of its own cost one more 4 KiB page a commit, 1.9 KB a
  -- reading at 4 containers x 1 Hz (npm run bench:wear). The log's id is meta's audit_log_id.
  ALTER TABLE sequences ADD COLUMN log_range BLOB;

  -- Signed checkpoints and gap records waiting for the broker's acknowledgement.
  CREATE TABLE audit_outbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind    TEXT NOT NULL,                    -- checkpoint, gap
    payload TEXT NOT NULL
  ) STRICT;
  `,
];

/** The schema version this agent writes: how many migrations it knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The oldest schema version whose agent may still use an outbox at this one: recorded in the
 * file at each migration, and read by an older agent that finds a newer file (a rollback after
 * an update). A migration that only adds (a table, a nullable column, an index) keeps it; one
 * that an older agent's statements would misuse raises it to SCHEMA_VERSION. Agents of schema 3
 * and before refuse any newer file whatever it says: they predate the marker.
 */
export const OLDEST_COMPATIBLE_SCHEMA = 3;

/** The outbox was migrated by a newer agent in a way this one cannot use (exit 78). */
export class OutboxTooNewError extends Error {
  override name = "OutboxTooNewError";
}

/** A database file that could not be used and was moved aside. */
export interface Recovery {
  readonly movedTo: string;
  readonly reason: string;
}

/** SQLite's answers for a file that is not a database or is damaged. */
const CORRUPT_CODES = new Set([
  "SQLITE_CORRUPT",
  "SQLITE_NOTADB",
  "SQLITE_CORRUPT_INDEX",
  "SQLITE_CORRUPT_VTAB",
]);

/**
 * Opens the outbox database. A file SQLite calls corrupt or not a database (power loss on a bad
 * SD card, a truncated copy) is moved aside with its WAL, named `<path>.corrupt-<time>` and kept
 * for forensics, and a fresh database is started, so the agent keeps capturing instead of
 * crash-looping. The fresh database starts each container's seq at the wall clock in ms (never
 * below the build's clock floor): above any seq the lost file held, since sampling never
 * produces more than one reading a millisecond, so (container_id, seq) stays unique downstream.
 */
export function openOutboxDatabase(
  path: string,
  durability: Durability,
  now: number,
  cacheKiB = 4000,
): {
  db: Database.Database;
  lock: AttachedLock | null;
  recovery: Recovery | null;
  /** Created by this open (never synced yet: see WalSync's `alsoOnce`). */
  fresh: boolean;
} {
  try {
    return { ...openDatabase(path, durability, now, cacheKiB), recovery: null };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (path === ":memory:" || typeof code !== "string" || !CORRUPT_CODES.has(code)) throw error;
    // Closing the damaged file released the lock: a lock of its own guards the move.
    const guard = OutboxLock.acquire(path, now);
    const movedTo = `${path}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, "-")}`;
    try {
      renameSync(path, movedTo);
      for (const suffix of ["-wal", "-shm"]) {
        if (existsSync(path + suffix)) renameSync(path + suffix, movedTo + suffix);
      }
    } finally {
      guard.release();
    }
    const opened = openDatabase(path, durability, now, cacheKiB);
    opened.db
      .prepare("INSERT INTO meta (key, value) VALUES ('seq_base', ?)")
      .run(Math.max(now, CLOCK_FLOOR_MS));
    return { ...opened, recovery: { movedTo, reason: `${code}: ${(error as Error).message}` } };
  }
}

/**
 * Opens (creating if needed) the outbox database in WAL mode with the configured durability:
 * `full` fsyncs the WAL on every commit, so a committed reading survives power loss; `normal`
 * survives a process crash but may lose the last commits on power loss. The agent's lock
 * (OutboxLock.attach) is taken through the same connection before anything of the file is read.
 */
function openDatabase(
  path: string,
  durability: Durability,
  now: number,
  cacheKiB: number,
): { db: Database.Database; lock: AttachedLock | null; fresh: boolean } {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const fresh = path === ":memory:" || !existsSync(path);
  // timeout 0 while the lock is taken: a held lock answers at once, not after 5 s.
  const db = new Database(path, { timeout: 0 });
  let lock: AttachedLock | null = null;
  try {
    if (path !== ":memory:") lock = OutboxLock.attach(db, path, now);
    // A new file holds nothing yet: made without syncs (switching it to WAL and creating the
    // tables), it costs no fsync, which a fleet starting thousands of gateways feels. Torn by a
    // power cut, it is damaged or empty, and either way started afresh. An existing file's
    // migrations keep their syncs.
    if (fresh) db.pragma("synchronous = OFF");
    // Must precede the first table: lets a full disk get space back by shrinking the file
    // (incremental_vacuum) after rows are evicted. A no-op on an existing database.
    db.pragma("main.auto_vacuum = INCREMENTAL");
    // `main.`: without a schema name this pragma would also apply to the attached lock.
    db.pragma("main.journal_mode = WAL");
    const synchronous = `synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`;
    if (!fresh) db.pragma(synchronous);
    // Another process (an operator's sqlite3 shell) may hold a lock briefly.
    db.pragma("busy_timeout = 5000");
    // better-sqlite3 builds with a 16 MB page cache; the outbox appends at one end and reads
    // the oldest rows at the other, so 4 MB (the default) serves it and keeps a Pi's memory flat.
    db.pragma(`cache_size = -${cacheKiB}`);
    // A bounded WAL: checkpoint every 1 MB and truncate it back to 1 MB, so it never takes a
    // small disk's last megabytes (the default lets it reach 4 MB and keeps that size).
    db.pragma("wal_autocheckpoint = 256");
    db.pragma(`journal_size_limit = ${1024 * 1024}`);
    migrate(db);
    if (fresh) db.pragma(synchronous);
    // A damaged page may only show when read: check the structure once at start.
    const check = db.pragma("main.quick_check", { simple: true });
    if (check !== "ok")
      throw Object.assign(new Error(`quick_check: ${String(check)}`), { code: "SQLITE_CORRUPT" });
    // The check read every page into this connection's cache: give that memory back (about
    // 85 KiB a handle, measured; it counts on a Pi and times 10,000 in a fleet simulator).
    db.pragma("shrink_memory");
    return { db, lock, fresh };
  } catch (error) {
    db.close();
    lock?.release();
    throw error;
  }
}

function migrate(db: Database.Database): void {
  const applied = db.pragma("user_version", { simple: true }) as number;
  if (applied > SCHEMA_VERSION) {
    // A newer agent migrated it (this one is a rollback): usable as is if it says so.
    const oldest = db
      .prepare("SELECT value FROM meta WHERE key = 'oldest_compatible_schema'")
      .pluck()
      .get() as number | undefined;
    if (oldest !== undefined && oldest <= SCHEMA_VERSION) return;
    throw new OutboxTooNewError(
      `outbox database schema version ${applied} is newer than this agent understands (${SCHEMA_VERSION}) and not marked usable by it (oldest compatible: ${oldest ?? "not recorded"}); refusing to touch it. Reinstall the version that migrated it, or move the file aside.`,
    );
  }
  if (applied === MIGRATIONS.length) {
    markCompatibility(db);
    return;
  }
  // Every pending step in one transaction: all or none, and one durable commit (one fsync) for
  // a new outbox instead of one per step, which a fleet of thousands opening at once feels.
  // (BEGIN and COMMIT by hand: see OutboxStore.atomically.)
  db.exec("BEGIN");
  try {
    for (let version = applied; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version] ?? "");
      db.exec(`PRAGMA user_version = ${version + 1}`);
    }
    markCompatibility(db);
    db.exec("COMMIT");
  } catch (error) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/** Records which older agents may use this file (see OLDEST_COMPATIBLE_SCHEMA), once. */
function markCompatibility(db: Database.Database): void {
  const current = db
    .prepare("SELECT value FROM meta WHERE key = 'oldest_compatible_schema'")
    .pluck()
    .get() as number | undefined;
  if (current === OLDEST_COMPATIBLE_SCHEMA) return;
  db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('oldest_compatible_schema', ?)").run(
    OLDEST_COMPATIBLE_SCHEMA,
  );
}
