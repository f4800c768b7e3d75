import Database from "better-sqlite3";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../../test/support/cli.js";
import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { MIGRATIONS, SCHEMA_VERSION } from "./database.js";
import { checkMigration, migrateOutbox, OutboxMigrationError } from "./migrate-command.js";
import { OutboxLock, OutboxLockedError } from "./outbox-lock.js";

const boxes = useOutboxes();

/** An outbox as the first release wrote it: schema 1, one reading waiting for the broker. */
function firstReleaseOutbox(path: string): void {
  const db = new Database(path);
  db.exec(MIGRATIONS[0] ?? "");
  db.pragma("user_version = 1");
  db.prepare("INSERT INTO sequences (container_id, last_seq) VALUES ('C1', 7)").run();
  db.prepare(
    `INSERT INTO outbox (lane, container_id, seq, captured_at, bytes, payload)
     VALUES (1, 'C1', 7, 1000, 2, '{}')`,
  ).run();
  db.close();
}

describe("reefer-edge outbox migrate", () => {
  it("brings a first-release outbox to this schema and keeps its backlog", () => {
    mkdirSync(dirname(boxes.path), { recursive: true });
    firstReleaseOutbox(boxes.path);

    expect(migrateOutbox(boxes.path)).toMatchObject({ from: 1, to: SCHEMA_VERSION });
    const outbox = boxes.open();
    expect(outbox.pending()).toEqual({ alerts: 0, telemetry: 1 });
    expect(outbox.lastSeq("C1")).toBe(7);
    outbox.close();
    // Again: nothing left to do.
    expect(migrateOutbox(boxes.path)).toMatchObject({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
  });

  it("has nothing to do before the agent ever ran", () => {
    expect(migrateOutbox(boxes.path)).toMatchObject({ from: null, to: null });
  });

  it("refuses while an agent holds the outbox", () => {
    boxes.open();
    expect(() => migrateOutbox(boxes.path)).toThrow(OutboxLockedError);
  });

  it("refuses a schema newer than it knows, naming both versions, and leaves the file alone", () => {
    const path = join(boxes.dir, "newer.db");
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.exec("CREATE TABLE kept (x)");
    db.close();
    let error: unknown;
    try {
      migrateOutbox(path);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(OutboxMigrationError);
    expect((error as Error).message).toContain(
      `schema ${SCHEMA_VERSION + 1} to ${SCHEMA_VERSION} failed`,
    );
    const after = new Database(path, { readonly: true });
    expect(after.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION + 1);
    after.close();
    // The lock was given back.
    OutboxLock.acquire(path).release();
  });

  it("tells, with the agent running, whether a migration is pending, changing nothing", () => {
    mkdirSync(dirname(boxes.path), { recursive: true });
    expect(checkMigration(boxes.path)).toMatchObject({ from: null, pending: false });
    firstReleaseOutbox(boxes.path);
    expect(checkMigration(boxes.path)).toMatchObject({
      from: 1,
      to: SCHEMA_VERSION,
      pending: true,
    });
    expect(checkMigration(boxes.path)).toMatchObject({ from: 1 });
    migrateOutbox(boxes.path);
    boxes.open(); // an agent holds it: the check still answers
    expect(checkMigration(boxes.path)).toMatchObject({ from: SCHEMA_VERSION, pending: false });
  });

  it("counts a newer or unreadable file as pending: the migration decides what to do", () => {
    const newer = join(boxes.dir, "newer.db");
    const db = new Database(newer);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(checkMigration(newer)).toMatchObject({ from: SCHEMA_VERSION + 1, pending: true });
    const garbage = join(boxes.dir, "garbage.db");
    writeFileSync(garbage, "not a database, long enough to have a header ".repeat(4));
    expect(checkMigration(garbage)).toMatchObject({ from: null, pending: true });
  });

  it("is a CLI command that exits 0 on success and 75 while an agent runs", async () => {
    const ok = await runCli(["outbox", "migrate", "--path", boxes.path]);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.stdout).toContain("no outbox yet");
    boxes.open();
    const held = await runCli(["outbox", "migrate", "--path", boxes.path]);
    expect(held.code).toBe(75);
    expect(held.stderr).toContain("in use by another reefer-edge agent");
    expect((await runCli(["outbox", "migrate"])).code).toBe(2);
    // --check answers beside the running agent: 0, nothing pending.
    const check = await runCli(["outbox", "migrate", "--check", "--path", boxes.path]);
    expect(check).toMatchObject({ code: 0 });
    expect(check.stdout).toContain(`schema ${SCHEMA_VERSION}, up to date`);
  });
});
