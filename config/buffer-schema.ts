import { z } from "zod";
import { byteSize } from "./size.js";

/** The outbox's settings (`buffer`): where it lives, its disk budget, cache and durability. */
export const bufferSchema = z
  .strictObject({
    path: z.string().default("./data/outbox.db").describe("SQLite file of the outbox."),
    maxBytes: byteSize
      .prefault("256MiB")
      .describe(
        "Disk budget of the readings waiting in the outbox (payload bytes plus a fixed per-row overhead). Past it, the oldest telemetry is evicted, counted; alerts go last.",
      ),
    cacheKiB: z
      .number()
      .int()
      .min(16)
      .max(1024 * 1024)
      .default(4000)
      .describe(
        "SQLite's page cache for the outbox, in KiB. The default serves a drain of a long backlog; the fleet simulator gives each of its thousands of gateways 40 (ten 4 KiB pages), which costs no measurable CPU at a reading every few seconds.",
      ),
    reserveKiB: z
      .number()
      .int()
      .min(0)
      .max(64 * 1024)
      .default(512)
      .describe(
        "A file of this many KiB kept beside the outbox and deleted when the disk is full, so SQLite has room to checkpoint and evict (0: none). The fleet simulator gives its gateways 64: ten thousand of them share one disk, and 512 each would write 5 GB while the fleet starts.",
      ),
    durability: z
      .enum(["full", "normal"])
      .default("full")
      .describe(
        'SQLite synchronous mode under WAL. "full" (default): a reading survives power loss; its commit is synced to disk (off the event loop) before it is published. "normal": it survives a process crash, but the last transactions may be lost on power loss; fewer writes to the SD card.',
      ),
  })
  .prefault({})
  .describe("The durable outbox: where readings wait until the broker acknowledged them.");
