import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Outbox } from "../../agent/outbox/outbox.js";

/**
 * What one gateway's outbox costs a fleet worker: opens `count` outboxes (WAL SQLite files on
 * disk, as the fleet's gateways do) in one process and prints the RSS and descriptors each adds.
 * argv: dir count
 */
const [dir = "", countText = "0"] = process.argv.slice(2);
const count = Number(countText);
const fds = () => readdirSync("/proc/self/fd").length;
global.gc?.();
const rssBefore = process.memoryUsage.rss();
const fdsBefore = fds();
const outboxes: Outbox[] = [];
for (let i = 0; i < count; i++) {
  outboxes.push(
    new Outbox({
      path: join(dir, `outbox-${i}.db`),
      maxBytes: 16 * 2 ** 20,
      durability: "full",
      // As a fleet gateway opens it (fleet-file.ts, Agent).
      backgroundSync: true,
      cacheKiB: 40,
      reserveKiB: 64,
      now: Date.now,
    }),
  );
}
global.gc?.();
process.stdout.write(
  JSON.stringify({
    rssBytesEach: (process.memoryUsage.rss() - rssBefore) / count,
    fdsEach: (fds() - fdsBefore) / count,
  }) + "\n",
);
for (const outbox of outboxes) outbox.close();
