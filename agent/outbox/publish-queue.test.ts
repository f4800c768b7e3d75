import { join } from "node:path";
import { afterAll } from "vitest";
import { makeTempDir } from "../../test/support/tmp.js";
import type { Durability } from "./database.js";
import { Outbox } from "./outbox.js";
import { publishQueueContract, type QueueUnderTest } from "./publish-queue.contract.js";

const temp = makeTempDir();
afterAll(() => temp.cleanup());
let n = 0;

function outbox(path: string, durability: Durability): QueueUnderTest {
  const box = new Outbox({ path, maxBytes: 1 << 30, durability, now: () => 1_000 });
  return {
    queue: box,
    capture: (readings, alerts = []) => {
      box.capture(
        readings,
        alerts.map((payload) => ({
          containerId: (payload as { containerId: string }).containerId,
          payload,
        })),
      );
    },
    close: () => box.close(),
  };
}

publishQueueContract("SQLite outbox on disk, durability full", () =>
  outbox(join(temp.dir, `full-${++n}`, "outbox.db"), "full"),
);
publishQueueContract("SQLite outbox on disk, durability normal", () =>
  outbox(join(temp.dir, `normal-${++n}`, "outbox.db"), "normal"),
);
publishQueueContract("SQLite outbox in memory", () => outbox(":memory:", "normal"));
