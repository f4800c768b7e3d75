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
    writeBehindSeconds: z
      .number()
      .min(0)
      .max(300)
      .default(0)
      .describe(
        "Telemetry waits this long in memory, published at once, before it is written to the outbox; what the broker acknowledges within it is never written (0, the default: every reading is committed before it is published). Fewer writes to an SD card: online, almost none. The price: a power cut loses the readings of the last writeBehindSeconds that the broker had not acknowledged (offline, all of them). Alerts and readings held by report by exception are written at once. Seqs stay unique across power cuts: they are reserved on disk in blocks ahead of use, so a crash skips some, and a graceful stop gives the unused back.",
      ),
    whenStorageFails: z
      .strictObject({
        memoryRows: z
          .number()
          .int()
          .min(100)
          .max(1_000_000)
          .default(10_000)
          .describe(
            "Rows (readings and alerts) held in memory while the outbox's storage fails (an I/O error, a file system gone read-only, the card removed). They are published as live traffic and stored once the disk is back; past this many, the oldest readings are dropped, counted. The default holds about 10 minutes of 16 containers at 1 Hz.",
          ),
        clearAfterSeconds: z
          .number()
          .min(1)
          .max(86_400)
          .default(60)
          .describe(
            "storage_failing clears once the storage has worked this long with no failure, so a card that fails now and then keeps it raised instead of flapping.",
          ),
        retryMaxSeconds: z
          .number()
          .min(1)
          .max(3600)
          .default(30)
          .describe(
            "The longest wait between attempts to open the outbox again (from 1 s, doubling).",
          ),
      })
      .prefault({})
      .describe(
        "How the agent rides out failing storage: it never stops publishing live readings and alerts, raises storage_failing, and goes back to the disk without a restart.",
      ),
  })
  .prefault({})
  .describe("The durable outbox: where readings wait until the broker acknowledged them.");
