import Database from "better-sqlite3";
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";

/** sysexits EX_TEMPFAIL: the outbox is busy now; trying later (once the holder stopped) works. */
export const EXIT_OUTBOX_LOCKED = 75;

/** Another live process holds the outbox. */
export class OutboxLockedError extends Error {
  constructor(
    readonly path: string,
    /** What the holder wrote about itself ("pid 1234 on gw-0001 since ..."), if it could be read. */
    readonly holder: string,
  ) {
    super(
      `outbox ${path} is in use by another reefer-edge agent (${holder}): one agent per outbox, ` +
        `so that sequence numbers are never reused. Stop that agent first, or give this one its ` +
        `own buffer.path`,
    );
    this.name = "OutboxLockedError";
  }
}

/**
 * One agent per outbox: two processes on one database would each keep their own last seq and
 * publish two readings under one (container_id, seq), which downstream deduplication then drops.
 *
 * The lock is SQLite's own exclusive locking on a small database beside the outbox
 * (`<path>.lock`): a POSIX lock that the kernel releases when the process dies, so a kill -9
 * never leaves a stale lock, and that SQLite also enforces between connections of one process
 * (a fleet simulator running many agents). Node has no flock(2); SQLite's lock needs no further
 * native module. A separate file, because exclusive locking on the outbox itself would shut out
 * the operator's `sqlite3` shell and the tests that read a running agent's outbox.
 *
 * Who holds it is written to `<path>.owner` (the lock database cannot be read while held).
 */
export class OutboxLock {
  private constructor(
    private readonly db: Database.Database,
    private readonly ownerFile: string,
  ) {}

  /** Takes the lock, or throws OutboxLockedError at once (no waiting) naming the holder. */
  static acquire(outboxPath: string, now: number = Date.now()): OutboxLock {
    mkdirSync(dirname(outboxPath), { recursive: true });
    const lockFile = `${outboxPath}.lock`;
    const ownerFile = `${outboxPath}.owner`;
    const db = openLockDatabase(lockFile);
    try {
      claim(db, "main", now);
    } catch (error) {
      db.close();
      if (isBusy(error)) throw new OutboxLockedError(outboxPath, readOwner(ownerFile));
      throw error;
    }
    // Held for the process's life, never read again: give back what SQLite cached while taking
    // it (about 160 KiB of 250 a lock, measured; a fleet worker holds thousands).
    db.pragma("shrink_memory");
    writeOwner(ownerFile, now);
    return new OutboxLock(db, ownerFile);
  }

  /**
   * Who holds the lock, if anyone, without taking it and without creating or changing a file:
   * what `validate` and `doctor` ask. They often run as root (sudo on a gateway), and a lock
   * file they created would be root's, which the service's own user could then not write.
   */
  static holder(outboxPath: string): OutboxLockedError | null {
    const lockFile = `${outboxPath}.lock`;
    if (!existsSync(lockFile)) return null;
    let db: Database.Database;
    try {
      db = new Database(lockFile, { readonly: true, fileMustExist: true, timeout: 0 });
    } catch {
      return null; // vanished or unreadable: nobody can be holding it through this path
    }
    try {
      // A reader needs a shared lock, which the holder's exclusive lock refuses at once.
      db.prepare("SELECT count(*) FROM sqlite_master").get();
      return null;
    } catch (error) {
      if (isBusy(error)) return new OutboxLockedError(outboxPath, readOwner(`${outboxPath}.owner`));
      return null; // damaged: acquire replaces it
    } finally {
      db.close();
    }
  }

  /** Releases the lock (also released by the kernel if the process dies). */
  release(): void {
    if (!this.db.open) return;
    try {
      forgetOwner(this.ownerFile);
    } finally {
      this.db.close();
    }
  }

  /**
   * Takes the lock through `db`, the outbox's own connection, before it reads the outbox: the
   * lock database is attached to it (schema `agent_lock`) instead of opened on a connection of
   * its own, which costs about 14 KiB instead of 70 (measured; a fleet worker holds thousands).
   * The lock is the same file and the same kind (`holder` sees it); closing `db` releases it.
   * Throws OutboxLockedError at once if another agent holds it, `db` left open and unattached.
   */
  static attach(db: Database.Database, outboxPath: string, now: number): AttachedLock {
    const lockFile = `${outboxPath}.lock`;
    const ownerFile = `${outboxPath}.owner`;
    replaceUnwritable(lockFile);
    try {
      holdThrough(db, lockFile, now);
    } catch (error) {
      if (isBusy(error)) throw new OutboxLockedError(outboxPath, readOwner(ownerFile));
      // Damaged: the lock file, or the outbox (attaching reads its schema too). A lock on a
      // connection of its own tells which without deleting a file another agent may hold: it
      // refuses if one does, and replaces a damaged lock file. A second failure is the
      // outbox's, for the caller to recover from (under that same lock, see database.ts).
      OutboxLock.acquire(outboxPath, now).release();
      holdThrough(db, lockFile, now);
    }
    writeOwner(ownerFile, now);
    return { release: () => forgetOwner(ownerFile) };
  }
}

/**
 * Removes the owner file. On a file system gone read-only (a failing card) it stays: it only
 * names who held the lock, and the lock itself goes with the connection.
 */
function forgetOwner(ownerFile: string): void {
  try {
    rmSync(ownerFile, { force: true });
  } catch {
    // read-only or gone: nothing to do
  }
}

/** A lock held through the outbox's connection; `release` before closing it. */
export interface AttachedLock {
  release(): void;
}

/** Attaches the lock file and takes its exclusive lock; detached again when that fails. */
function holdThrough(db: Database.Database, lockFile: string, now: number): void {
  db.prepare("ATTACH DATABASE ? AS agent_lock").run(lockFile);
  try {
    // Its pages are never read again once the lock is held.
    db.pragma("agent_lock.cache_size = 1");
    claim(db, "agent_lock", now);
  } catch (error) {
    try {
      db.exec("DETACH DATABASE agent_lock");
    } catch {
      // Detaching fails only if the connection is unusable; the caller closes it anyway.
    }
    throw error;
  }
}

/** Takes the exclusive lock on the lock database `schema` of `db`: SQLITE_BUSY if held. */
function claim(db: Database.Database, schema: string, now: number): void {
  // The file holds no data worth a sync or a journal: a torn write only makes it "damaged", and
  // a damaged lock file is replaced. Without them, taking the lock costs no fsync, which a fleet
  // worker starting thousands of gateways feels.
  db.pragma(`${schema}.synchronous = OFF`);
  db.pragma(`${schema}.journal_mode = MEMORY`);
  db.pragma(`${schema}.locking_mode = EXCLUSIVE`);
  // The first write takes the EXCLUSIVE lock, and in this mode it is kept until close.
  db.exec(`CREATE TABLE IF NOT EXISTS ${schema}.holder (pid INTEGER, since TEXT)`);
  db.prepare(`INSERT INTO ${schema}.holder (pid, since) VALUES (?, ?)`).run(
    process.pid,
    new Date(now).toISOString(),
  );
}

function writeOwner(ownerFile: string, now: number): void {
  writeFileSync(
    ownerFile,
    `pid ${process.pid} on ${hostname()} since ${new Date(now).toISOString()}\n`,
  );
}

/**
 * A lock file this user may not write (left by a `run` as root before the service's first
 * start) is replaced when nobody holds it: the folder is the agent's, so it may unlink it.
 */
function replaceUnwritable(file: string): void {
  if (
    existsSync(file) &&
    !writable(file) &&
    OutboxLock.holder(file.slice(0, -".lock".length)) === null
  )
    rmSync(file, { force: true });
}

function openLockDatabase(file: string): Database.Database {
  replaceUnwritable(file);
  // timeout 0: a held lock answers SQLITE_BUSY at once instead of after better-sqlite3's 5 s.
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma("quick_check");
    return db;
  } catch (error) {
    db.close();
    if (isBusy(error)) return new Database(file, { timeout: 0 }); // held: acquire says so
    // The lock file holds no data: a damaged one is replaced.
    rmSync(file, { force: true });
    return new Database(file, { timeout: 0 });
  }
}

function writable(file: string): boolean {
  try {
    accessSync(file, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function readOwner(file: string): string {
  try {
    return readFileSync(file, "utf8").trim() || "holder unknown";
  } catch {
    return "holder unknown";
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED";
}
