import type Database from "better-sqlite3";
import { AUDIT_LANE } from "./tally.js";

/** An outbox row as SQLite returns it. */
export interface RowRecord {
  id: number;
  lane: number;
  container_id: string;
  seq: number | null;
  captured_at: number;
  bytes: number;
  payload: string;
}

/**
 * Every statement the outbox runs. A prepared statement holds about 4 KiB of SQLite's memory for
 * the life of the connection, which a fleet worker pays thousands of times over: the statements
 * of every tick are prepared on first use and kept (`kept`); those of the start, a reconnect or a
 * clock correction are prepared each time they are asked for (`transient`) and freed after.
 */
export function prepareStatements(db: Database.Database) {
  const kept = {
    begin: () => db.prepare("BEGIN"),
    commit: () => db.prepare("COMMIT"),
    lastSeq: () =>
      db.prepare<[string], { last_seq: number }>(
        "SELECT last_seq FROM sequences WHERE container_id = ?",
      ),
    saveSeq: () =>
      db.prepare(
        "INSERT INTO sequences (container_id, last_seq) VALUES (?, ?) ON CONFLICT (container_id) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
      ),
    setSeq: () =>
      db.prepare(
        "INSERT INTO sequences (container_id, last_seq) VALUES (?, ?) ON CONFLICT (container_id) DO UPDATE SET last_seq = excluded.last_seq",
      ),
    insert: () =>
      db.prepare(
        "INSERT INTO outbox (lane, container_id, seq, captured_at, bytes, payload, clock_epoch) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
    oldestOfLane: () =>
      db.prepare<[number, number], { id: number; bytes: number }>(
        "SELECT id, bytes FROM outbox WHERE lane = ? ORDER BY id LIMIT ?",
      ),
    deleteReturning: () =>
      db.prepare<[number], { lane: number; bytes: number }>(
        "DELETE FROM outbox WHERE id = ? RETURNING lane, bytes",
      ),
    laneAfter: () =>
      db.prepare<[number, number, number, number], RowRecord>(
        "SELECT * FROM outbox WHERE lane = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?",
      ),
    containerAfter: () =>
      db.prepare<[string, number, number, number], RowRecord>(
        "SELECT * FROM outbox WHERE lane = 1 AND container_id = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?",
      ),
    // Ids are capture order: the first row by id is the oldest, found through the primary key.
    oldest: () =>
      db.prepare<[], { captured_at: number }>("SELECT captured_at FROM outbox ORDER BY id LIMIT 1"),
    oldestRows: () =>
      db.prepare<[number], { id: number; captured_at: number }>(
        "SELECT id, captured_at FROM outbox ORDER BY id LIMIT ?",
      ),
    deleteRow: () => db.prepare<[number]>("DELETE FROM outbox WHERE id = ?"),
    deadLetter: () =>
      db.prepare(
        "INSERT INTO dead_letter (lane, container_id, seq, captured_at, payload, reason, failed_at) SELECT lane, container_id, seq, captured_at, payload, ?, ? FROM outbox WHERE id = ?",
      ),
    bumpCounter: () =>
      db.prepare(
        "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
      ),
    counter: () =>
      db.prepare<[string], { value: number }>("SELECT value FROM counters WHERE name = ?"),
    promoteHeld: () =>
      db.prepare<[string, number], { id: number; bytes: number }>(
        "UPDATE outbox SET lane = 1 WHERE lane = 2 AND container_id = ? AND seq = ? RETURNING id, bytes",
      ),
    dropHeld: () =>
      db.prepare<[string, number], { bytes: number; payload: string }>(
        "DELETE FROM outbox WHERE lane = 2 AND container_id = ? AND seq = ? RETURNING bytes, payload",
      ),
    // Only where a row leaves undelivered (evicted, dead-lettered) and the audit log must say so.
    payloadOf: () =>
      db.prepare<[number], { payload: string }>("SELECT payload FROM outbox WHERE id = ?"),
  };
  const transient = {
    seqBase: () =>
      db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'seq_base'"),
    epochRows: () =>
      db.prepare<[number], { id: number; lane: number; bytes: number; payload: string }>(
        "SELECT id, lane, bytes, payload FROM outbox WHERE clock_epoch = ?",
      ),
    rewrite: () =>
      db.prepare("UPDATE outbox SET payload = ?, bytes = ?, clock_epoch = NULL WHERE id = ?"),
    forgetEpochs: () =>
      db.prepare("UPDATE outbox SET clock_epoch = NULL WHERE clock_epoch IS NOT NULL"),
    backlogContainers: () =>
      db.prepare<[number], { container_id: string }>(
        "SELECT DISTINCT container_id FROM outbox WHERE lane = 1 AND id <= ? ORDER BY container_id",
      ),
    maxId: () => db.prepare<[], { id: number | null }>("SELECT MAX(id) AS id FROM outbox"),
    promoteAllHeld: () => db.prepare("UPDATE outbox SET lane = 1 WHERE lane = 2"),
    totals: () =>
      db.prepare<[], { lane: number; n: number; bytes: number }>(
        `SELECT lane, COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM outbox GROUP BY lane
         UNION ALL SELECT ${AUDIT_LANE}, COUNT(*), COALESCE(SUM(length(CAST(payload AS BLOB))), 0) FROM audit_outbox`,
      ),
  };
  return onDemand(kept, transient);
}

export type Statements = ReturnType<typeof prepareStatements>;

type Made<T> = { readonly [K in keyof T]: T[K] extends () => infer R ? R : never };

/** Getters over statement makers: `kept` ones made once on first use, `transient` ones each time. */
function onDemand<K extends Record<string, () => unknown>, T extends Record<string, () => unknown>>(
  kept: K,
  transient: T,
): Made<K> & Made<T> {
  const statements = {};
  for (const [name, make] of Object.entries(kept)) {
    let made: unknown;
    Object.defineProperty(statements, name, { get: () => (made ??= make()), enumerable: true });
  }
  for (const [name, make] of Object.entries(transient)) {
    Object.defineProperty(statements, name, { get: make, enumerable: true });
  }
  return statements as Made<K> & Made<T>;
}
