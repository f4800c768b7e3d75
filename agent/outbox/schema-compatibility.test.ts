import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/support/tmp.js";
import {
  OLDEST_COMPATIBLE_SCHEMA,
  openOutboxDatabase,
  OutboxTooNewError,
  SCHEMA_VERSION,
} from "./database.js";

/**
 * An outbox across versions: an update migrates it, a rollback's older agent must still open it
 * when the newer steps were additive, and refuse it with a reason when they were not.
 */
describe("the outbox's schema across versions", () => {
  const temp = makeTempDir();
  afterAll(() => temp.cleanup());
  let n = 0;

  /** An outbox as a newer agent left it: its schema a step ahead, and what it says of itself. */
  function fromNewerAgent(oldestCompatible: number | null): string {
    const path = join(temp.dir, `outbox-${++n}.db`);
    const { db, lock } = openOutboxDatabase(path, "full", Date.now());
    db.prepare("INSERT INTO sequences (container_id, last_seq) VALUES ('C1', 41)").run();
    db.exec("ALTER TABLE outbox ADD COLUMN leaf_index INTEGER");
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    if (oldestCompatible === null)
      db.exec("DELETE FROM meta WHERE key = 'oldest_compatible_schema'");
    else
      db.prepare("UPDATE meta SET value = ? WHERE key = 'oldest_compatible_schema'").run(
        oldestCompatible,
      );
    db.close();
    lock?.release();
    return path;
  }

  it("records in a new outbox which schema versions may use it", () => {
    const path = join(temp.dir, "fresh.db");
    const { db, lock } = openOutboxDatabase(path, "full", Date.now());
    db.close();
    lock?.release();
    const raw = new Database(path, { readonly: true });
    expect(
      raw.prepare("SELECT value FROM meta WHERE key = 'oldest_compatible_schema'").pluck().get(),
    ).toBe(OLDEST_COMPATIBLE_SCHEMA);
    raw.close();
  });

  it("opens, as it is, an outbox a newer agent migrated with additive steps, its sequences kept", () => {
    const path = fromNewerAgent(SCHEMA_VERSION);
    const { db, lock } = openOutboxDatabase(path, "full", Date.now());
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(
      db.prepare("SELECT last_seq FROM sequences WHERE container_id = 'C1'").pluck().get(),
    ).toBe(41);
    db.close();
    lock?.release();
  });

  it("refuses an outbox a newer agent marked beyond this one, saying what to do", () => {
    const path = fromNewerAgent(SCHEMA_VERSION + 1);
    expect(() => openOutboxDatabase(path, "full", Date.now())).toThrow(OutboxTooNewError);
    expect(() => openOutboxDatabase(path, "full", Date.now())).toThrow(
      `outbox database schema version ${SCHEMA_VERSION + 1} is newer than this agent understands (${SCHEMA_VERSION}) and not marked usable by it (oldest compatible: ${SCHEMA_VERSION + 1}); refusing to touch it. Reinstall the version that migrated it, or move the file aside.`,
    );
  });

  it("refuses a newer outbox that says nothing of its compatibility", () => {
    const path = fromNewerAgent(null);
    expect(() => openOutboxDatabase(path, "full", Date.now())).toThrow(
      /oldest compatible: not recorded/,
    );
  });
});
