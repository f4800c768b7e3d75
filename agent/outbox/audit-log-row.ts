import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";

/**
 * The log's row in the sequences table (migration 4 says why there): its last_seq is the log's
 * size. No container id can start with "#" (CONTAINER_ID in config/schema.ts).
 */
export const LOG_ROW = "#log";

/** The log's state as the file holds it: its id (meta audit_log_id), size and compact range. */
export type LogRow = { log_id: number; size: number; range: Buffer };

/**
 * Where the audit log's state lives in the outbox database, and the write-behind mark (meta
 * audit_ahead): records were stamped in memory and may be published before any commit stores
 * them, so a start that finds the mark begins a new log rather than give their indexes again.
 */
export class AuditLogRow {
  /** The one statement of every commit, prepared on first use (a kept statement is ~4 KiB). */
  private saveStatement: Database.Statement | null = null;

  constructor(private readonly db: Database.Database) {}

  read(): LogRow | undefined {
    return this.db
      .prepare<[], LogRow>(
        `SELECT meta.value AS log_id, last_seq AS size, log_range AS range FROM sequences, meta
         WHERE container_id = '${LOG_ROW}' AND meta.key = 'audit_log_id'`,
      )
      .get();
  }

  /** A new log for a new file: its id tells its records from those of a file it replaced. */
  create(): void {
    this.db
      .prepare("INSERT INTO meta (key, value) VALUES ('audit_log_id', ?)")
      .run(randomBytes(4).readUInt32BE(0));
    this.db
      .prepare(
        `INSERT INTO sequences (container_id, last_seq, log_range) VALUES ('${LOG_ROW}', 0, ?)`,
      )
      .run(Buffer.alloc(0));
  }

  /** Writes the range, inside the caller's transaction. */
  save(size: number, range: Buffer): void {
    this.saveStatement ??= this.db.prepare(
      `UPDATE sequences SET last_seq = ?, log_range = ? WHERE container_id = '${LOG_ROW}'`,
    );
    this.saveStatement.run(size, range);
  }

  /** Whether the last process left records stamped in memory that it never stored. */
  get ahead(): boolean {
    return (
      this.db
        .prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'audit_ahead'")
        .get()?.value === 1
    );
  }

  /** Sets the mark (inside the caller's transaction), or takes it away. */
  markAhead(ahead: boolean): void {
    if (ahead)
      this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_ahead', 1)").run();
    else this.db.prepare("DELETE FROM meta WHERE key = 'audit_ahead'").run();
  }

  /**
   * A new log in place of the file's (inside the caller's transaction): a new id, empty, the
   * mark taken away. Returns the old log's id.
   */
  replace(): number {
    const old = this.read()?.log_id ?? 0;
    let id = old;
    while (id === old) id = randomBytes(4).readUInt32BE(0);
    this.db.prepare("UPDATE meta SET value = ? WHERE key = 'audit_log_id'").run(id);
    this.save(0, Buffer.alloc(0));
    this.markAhead(false);
    return old;
  }
}
