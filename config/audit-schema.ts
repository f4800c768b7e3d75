import { z } from "zod";

/** The cold-chain audit log (docs/audit-log.md): what the gateway logs, signs and sends. */
export const auditSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe(
        "Keep the cold-chain audit log: each reading is appended to this gateway's Merkle log as it is committed (it carries log_id and log_index), what leaves the outbox undelivered is declared in gap records, and a signed checkpoint of the log goes out on dt/reefer/<gateway>/audit. `reefer-edge audit verify` proves a voyage complete and unaltered from them. About 40 bytes and a few microseconds a reading (BENCHMARKS.md).",
      ),
    keyFile: z
      .string()
      .optional()
      .describe(
        "The checkpoint signing key (Ed25519, PEM, mode 0600), made on the first start if absent; its public half is registered with the thing. Default: `checkpoint-key.pem` beside the outbox. Kept apart from the TLS key.",
      ),
    checkpointSeconds: z
      .number()
      .min(1)
      .max(3600)
      .default(60)
      .describe(
        "How often a checkpoint is signed while the log grows (and always at a graceful stop). Records past the last checkpoint could be deleted unseen: this is the most a power cut leaves unsigned.",
      ),
  })
  .prefault({})
  .describe("The cold-chain audit log and its signed checkpoints.");
