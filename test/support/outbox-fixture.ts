import { join } from "node:path";
import { afterEach, beforeEach } from "vitest";
import { Outbox, type OutboxOptions } from "../../agent/outbox/outbox.js";
import { makeTempDir } from "./tmp.js";

export interface OutboxFixture {
  /** The test's own folder, and the outbox path in it (`<dir>/data/outbox.db`). */
  readonly dir: string;
  readonly path: string;
  /** An outbox on `path` (or the overrides'); closed after the test unless closed before. */
  open(overrides?: Partial<OutboxOptions>): Outbox;
  /** Closes every outbox the test opened. */
  closeAll(): void;
}

/** For a test file: a fresh folder per test, and outboxes in it closed and removed after. */
export function useOutboxes(defaults: Partial<OutboxOptions> = {}): OutboxFixture {
  let temp: ReturnType<typeof makeTempDir> | null = null;
  const opened: Outbox[] = [];
  const fixture: OutboxFixture = {
    get dir() {
      if (!temp) throw new Error("useOutboxes: only inside a test");
      return temp.dir;
    },
    get path() {
      return join(fixture.dir, "data", "outbox.db");
    },
    open(overrides = {}) {
      const box = new Outbox({
        path: fixture.path,
        maxBytes: 1 << 30,
        durability: "full",
        now: () => 1_000,
        ...defaults,
        ...overrides,
      });
      opened.push(box);
      return box;
    },
    closeAll() {
      for (const box of opened.splice(0)) box.close();
    },
  };
  beforeEach(() => {
    temp = makeTempDir();
  });
  afterEach(() => {
    fixture.closeAll();
    temp?.cleanup();
    temp = null;
  });
  return fixture;
}
