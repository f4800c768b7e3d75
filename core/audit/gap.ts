import { HASH_BYTES } from "./merkle.js";

/**
 * A gap record (docs/audit-log.md): a leaf of the log that says which earlier leaves the gateway
 * dropped on purpose and why, so that a reading lost to a full disk is provable rather than
 * silent. It names each dropped leaf's hash: the verifier cannot recompute a root past a leaf it
 * lacks, and with the hash it can, while the root still proves that the hash is the one that
 * was logged. The gap record is itself signed for like any leaf, so a deletion cannot later be
 * passed off as an eviction.
 */

export const GAP_SCHEMA = "reefer.gap.v1";

/** Why leaves left the gateway without being published. */
export type GapReason =
  /** The outbox's disk budget (or a full disk) evicted the oldest readings. */
  | "evicted"
  /** Report by exception held the reading and its window closed without publishing it. */
  | "dropped_by_exception"
  /** The broker refused it for good (too large, not authorized): kept in the dead-letter table. */
  | "dead_letter";

/** One dropped leaf: where it was, its hash, and which reading it was. */
export type GapLeaf = {
  log_index: number;
  /** base64 of the leaf's RFC 6962 hash. */
  leaf_hash: string;
  container_id: string;
  seq: number | null;
};

export type GapRecord = {
  schema: typeof GAP_SCHEMA;
  gateway_id: string;
  reason: GapReason;
  /** When it was dropped, ISO 8601 by the gateway's clock. */
  at: string;
  leaves: GapLeaf[];
};

/** Leaves named in one gap record at most: its message stays far below AWS IoT's 128 KB. */
export const MAX_GAP_LEAVES = 400;

export function isGapRecord(record: Readonly<Record<string, unknown>>): boolean {
  return record.schema === GAP_SCHEMA;
}

/** A dropped leaf as the verifier uses it. */
export type DroppedLeaf = {
  index: number;
  hash: Buffer;
  reason: string;
  containerId: string;
  seq: number | null;
};

/** The leaves a gap record names; throws, naming what is wrong, on one that is malformed. */
export function droppedLeaves(record: Readonly<Record<string, unknown>>): DroppedLeaf[] {
  const { reason, leaves } = record;
  if (typeof reason !== "string" || !Array.isArray(leaves))
    throw new Error("a gap record needs a reason and a list of leaves");
  return leaves.map((leaf: unknown, i): DroppedLeaf => {
    const entry = (leaf ?? {}) as Partial<GapLeaf>;
    const hash = Buffer.from(String(entry.leaf_hash), "base64");
    const index = entry.log_index;
    if (typeof index !== "number" || !Number.isSafeInteger(index) || index < 0)
      throw new Error(`gap leaf ${i}: no valid log_index`);
    if (hash.length !== HASH_BYTES) throw new Error(`gap leaf ${i}: leaf_hash is not 32 bytes`);
    return {
      index,
      hash,
      reason,
      containerId: String(entry.container_id),
      seq: typeof entry.seq === "number" ? entry.seq : null,
    };
  });
}
