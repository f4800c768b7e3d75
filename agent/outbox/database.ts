import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";

export type Durability = "full" | "normal";

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran. Never edit a
 * shipped migration: gateways in the field have run it. Add a new one.
 */
const MIGRATIONS: readonly string[] = [
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
];

/**
 * Opens (creating if needed) the outbox database in WAL mode with the configured durability:
 * `full` fsyncs the WAL on every commit, so a committed reading survives power loss; `normal`
 * survives a process crash but may lose the last commits on power loss.
 */
export function openDatabase(path: string, durability: Durability): Database.Database {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${durability === "full" ? "FULL" : "NORMAL"}`);
    // Another process (an operator's sqlite3 shell) may hold a lock briefly.
    db.pragma("busy_timeout = 5000");
    // better-sqlite3 builds with a 16 MB page cache; the outbox appends at one end and reads
    // the oldest rows at the other, so 4 MB serves it and keeps a Pi's memory flat.
    db.pragma("cache_size = -4000");
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function migrate(db: Database.Database): void {
  const applied = db.pragma("user_version", { simple: true }) as number;
  if (applied > MIGRATIONS.length) {
    throw new Error(
      `outbox database schema version ${applied} is newer than this agent understands (${MIGRATIONS.length}); refusing to touch it`,
    );
  }
  for (let version = applied; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] ?? "");
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
