import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import Database from "better-sqlite3";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { makeReading } from "../../test/support/readings.js";
import { CLI } from "../../test/support/cli.js";
import { useOutboxes } from "../../test/support/outbox-fixture.js";
import { requireRoot } from "../../test/support/tools.js";
import { Outbox } from "./outbox.js";
import { OutboxLock, OutboxLockedError } from "./outbox-lock.js";

const boxes = useOutboxes({ durability: "normal" });
/** The service's own user stands in as nobody; switching to it needs root. */
const asService = requireRoot("running the CLI as another user");
const NOBODY = 65534;
const outbox = () => boxes.open();

describe("one agent per outbox", () => {
  it("refuses a second outbox on the same file, naming the path and the holder's pid", () => {
    const first = outbox();
    first.capture([makeReading("C1")]);
    let refused: unknown;
    try {
      outbox();
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(OutboxLockedError);
    const message = (refused as Error).message;
    expect(message).toContain(boxes.path);
    expect(message).toContain(`pid ${process.pid}`);
    // The holder goes on as if nothing happened, and its sequence continues.
    expect(first.capture([makeReading("C1")]).readings[0]?.seq).toBe(2);
  });

  it("is free again once the holder closed", () => {
    outbox().close();
    boxes.closeAll();
    const again = outbox();
    expect(again.capture([makeReading("C1")]).readings[0]?.seq).toBe(1);
  });

  it("never moves aside a damaged-looking database another agent holds", () => {
    const lock = OutboxLock.acquire(boxes.path);
    try {
      writeFileSync(boxes.path, "not a database at all, but somebody else's to deal with");
      expect(() => outbox()).toThrow(OutboxLockedError);
      expect(readdirSync(join(boxes.dir, "data")).filter((f) => f.includes("corrupt"))).toEqual([]);
    } finally {
      lock.release();
    }
  });

  it("is released by the kernel when the holding process is killed with SIGKILL", async () => {
    // A child process takes the lock, says so, and hangs; kill -9 must free the outbox at once.
    const sqlite = createRequire(import.meta.url).resolve("better-sqlite3");
    const script = `
      const Database = require(${JSON.stringify(sqlite)});
      const db = new Database(${JSON.stringify(`${boxes.path}.lock`)}, { timeout: 0 });
      db.pragma("locking_mode = EXCLUSIVE");
      db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER, since TEXT)");
      db.prepare("INSERT INTO holder VALUES (?, ?)").run(process.pid, "now");
      require("node:fs").writeFileSync(${JSON.stringify(`${boxes.path}.owner`)}, "pid " + process.pid + " (test holder)");
      process.stdout.write("held\\n");
      setInterval(() => {}, 1000);
    `;
    outbox().close(); // creates the folder and the lock database
    boxes.closeAll();
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once("data", () => resolve());
      child.once("exit", (code) => reject(new Error(`holder exited early (${String(code)})`)));
    });
    expect(() => outbox()).toThrow(/test holder/);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    expect(() => outbox()).not.toThrow();
  });

  it("holds the lock through the outbox's own connection: one SQLite connection, not two", () => {
    const holding = outbox();
    const schemas = holding.query<{ name: string; file: string }>("PRAGMA database_list");
    expect(schemas.map((s) => [s.name, s.file])).toEqual([
      ["main", boxes.path],
      ["agent_lock", `${boxes.path}.lock`],
    ]);
    // The outbox itself stays readable by others (an operator's sqlite3 shell).
    const reader = new Database(boxes.path, { readonly: true });
    expect(reader.prepare("SELECT count(*) AS n FROM outbox").get()).toEqual({ n: 0 });
    reader.close();
    expect(OutboxLock.holder(boxes.path)?.holder).toContain(`pid ${process.pid}`);
  });

  it("replaces a damaged lock file nobody holds, and holds the new one", () => {
    mkdirSync(join(boxes.dir, "data"), { recursive: true });
    writeFileSync(`${boxes.path}.lock`, "torn by a power cut, not a database any more");
    const holding = outbox();
    holding.capture([makeReading("C1")]);
    expect(() => outbox()).toThrow(OutboxLockedError);
    expect(readdirSync(join(boxes.dir, "data")).filter((f) => f.includes("corrupt"))).toEqual([]);
  });

  it("needs no lock for an in-memory outbox", () => {
    const memory = new Outbox({
      path: ":memory:",
      maxBytes: 1 << 20,
      durability: "normal",
      now: () => 1,
    });
    expect(existsSync(":memory:.lock")).toBe(false);
    memory.close();
  });

  it("tells who holds it without creating or touching a file", () => {
    expect(OutboxLock.holder(boxes.path)).toBeNull();
    expect(existsSync(`${boxes.path}.lock`)).toBe(false);
    const holding = outbox();
    expect(OutboxLock.holder(boxes.path)?.holder).toContain(`pid ${process.pid}`);
    holding.close();
    expect(OutboxLock.holder(boxes.path)).toBeNull();
  });

  it.skipIf(asService.skip)(
    "replaces a lock file the service user cannot write, left by a run as root",
    () => {
      // What a technician's `sudo reefer-edge run` leaves behind: root's lock file, mode 0644, in
      // the service user's folder. The service, as its own user, must still start.
      const folder = join(boxes.dir, "service");
      mkdirSync(folder);
      const path = join(folder, "outbox.db");
      new Outbox({ path, maxBytes: 1 << 20, durability: "normal", now: () => 1 }).close();
      chmodSync(`${path}.lock`, 0o644);
      for (const file of [boxes.dir, folder, path]) chownSync(file, NOBODY, NOBODY);
      const migrate = spawnSync(process.execPath, [CLI, "outbox", "migrate", "--path", path], {
        uid: NOBODY,
        gid: NOBODY,
        encoding: "utf8",
      });
      expect(migrate.error, "nobody must be able to run this node and CLI").toBeUndefined();
      expect(
        migrate.stderr,
        "nobody runs the CLI from this checkout: its folders must be traversable by other users",
      ).toBe("");
      expect(migrate.status).toBe(0);
      expect(statSync(`${path}.lock`).uid).toBe(NOBODY);
    },
  );
});
