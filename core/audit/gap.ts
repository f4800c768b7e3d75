import { HASH_BYTES, LeafRun, subtreesOf } from "./merkle.js";

/**
 * A gap record (docs/audit-log.md): a leaf of the log that says which earlier leaves the gateway
 * dropped on purpose and why, so that a reading lost to a full disk is provable rather than
 * silent. The verifier cannot recompute a root past a leaf it lacks; the gap record gives it
 * what stands in for the leaves, while the root still proves that it is what was logged. The
 * gap record is itself signed for like any leaf, so a deletion cannot later be passed off as an
 * eviction.
 *
 * Version 2 names each run of consecutive dropped leaves by the hashes of the perfect subtrees
 * that cover it (at most 2·log2 of its length) and each container's dropped readings as ranges
 * of seqs, so a disk that stays full costs a few hashes a minute, not one per reading. Version 1
 * (one entry of about 110 bytes per leaf) is still read.
 */

export const GAP_SCHEMA = "reefer.gap.v2";
/** The first version, written by 0.x gateways before the runs: read, no longer written. */
export const GAP_SCHEMA_V1 = "reefer.gap.v1";

/** Why leaves left the gateway without being published. */
export type GapReason =
  /** The outbox's disk budget (or a full disk) evicted the oldest readings. */
  | "evicted"
  /** Report by exception held the reading and its window closed without publishing it. */
  | "dropped_by_exception"
  /** The broker refused it for good (too large, not authorized): kept in the dead-letter table. */
  | "dead_letter";

/** Consecutive dropped leaves [from, to), by the base64 hashes of subtreesOf(from, to). */
export type GapRange = { from: number; to: number; hashes: string[] };

/** One container's dropped records: inclusive ranges [first, last] of its seqs. */
export type GapReadings = { container_id: string; seqs: [number, number][] };

export type GapRecord = {
  schema: typeof GAP_SCHEMA;
  gateway_id: string;
  reason: GapReason;
  /** The first drop it names, and when it was logged: ISO 8601 by the gateway's clock. */
  since: string;
  at: string;
  ranges: GapRange[];
  readings: GapReadings[];
  /** Dropped records without a seq (none today: every record of the log has one). */
  unnumbered?: number;
};

/** A gap record's JSON stays below this: far below AWS IoT's 128 KB message limit. */
export const MAX_GAP_BYTES = 32 * 1024;

export function isGapRecord(record: Readonly<Record<string, unknown>>): boolean {
  return record.schema === GAP_SCHEMA || record.schema === GAP_SCHEMA_V1;
}

/** A run of dropped leaves as the verifier uses it. */
export type DroppedRun = {
  from: number;
  to: number;
  /** The subtree hashes of [from, to), subtreesOf's order. */
  hashes: readonly Buffer[];
  reason: string;
  /** Per container, its dropped seqs (inclusive ranges). */
  readings: ReadonlyMap<string, readonly [number, number][]>;
};

/** The runs a gap record names; throws, naming what is wrong, on one that is malformed. */
export function droppedRuns(record: Readonly<Record<string, unknown>>): DroppedRun[] {
  const { reason } = record;
  if (typeof reason !== "string") throw new Error("a gap record needs a reason");
  return record.schema === GAP_SCHEMA_V1 ? runsOfV1(reason, record) : runsOfV2(reason, record);
}

const isIndex = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n);

function runsOfV2(reason: string, record: Readonly<Record<string, unknown>>): DroppedRun[] {
  const { ranges, readings } = record;
  if (!Array.isArray(ranges) || !Array.isArray(readings))
    throw new Error("a gap record needs its ranges and readings");
  const seqs = new Map<string, [number, number][]>();
  readings.forEach((entry: unknown, i) => {
    const { container_id, seqs: spans } = (entry ?? {}) as Partial<GapReadings>;
    if (typeof container_id !== "string" || !Array.isArray(spans))
      throw new Error(`gap readings ${i}: needs a container_id and its seqs`);
    for (const span of spans)
      if (!Array.isArray(span) || !isIndex(span[0]) || !isIndex(span[1]) || span[1] < span[0])
        throw new Error(`gap readings ${i}: ${JSON.stringify(span)} is not a range of seqs`);
    seqs.set(container_id, [...(seqs.get(container_id) ?? []), ...spans]);
  });
  // The seqs belong to the record as a whole: each run carries them, for the run's reason.
  return ranges.map((entry: unknown, i): DroppedRun => {
    const { from, to, hashes } = (entry ?? {}) as Partial<GapRange>;
    if (!isIndex(from) || !isIndex(to) || from < 0 || to <= from || !Array.isArray(hashes))
      throw new Error(`gap range ${i}: needs leaves [from, to) and their subtree hashes`);
    const decoded = (hashes as unknown[]).map((h) => Buffer.from(String(h), "base64"));
    try {
      LeafRun.of(from, to, decoded);
    } catch (error) {
      throw new Error(`gap range ${i}: ${(error as Error).message}`);
    }
    return { from, to, hashes: decoded, reason, readings: seqs };
  });
}

function runsOfV1(reason: string, record: Readonly<Record<string, unknown>>): DroppedRun[] {
  const { leaves } = record;
  if (!Array.isArray(leaves)) throw new Error("a gap record needs a list of leaves");
  return leaves.map((leaf: unknown, i): DroppedRun => {
    const entry = (leaf ?? {}) as { log_index?: unknown; leaf_hash?: unknown; seq?: unknown };
    const hash = Buffer.from(String(entry.leaf_hash), "base64");
    const index = entry.log_index;
    if (!isIndex(index) || index < 0) throw new Error(`gap leaf ${i}: no valid log_index`);
    if (hash.length !== HASH_BYTES) throw new Error(`gap leaf ${i}: leaf_hash is not 32 bytes`);
    const container = String((entry as { container_id?: unknown }).container_id);
    const seq = entry.seq;
    return {
      from: index,
      to: index + 1,
      hashes: [hash],
      reason,
      readings: new Map(isIndex(seq) ? [[container, [[seq, seq] as [number, number]]]] : []),
    };
  });
}

/** How many leaves the runs name. */
export function droppedCount(runs: readonly DroppedRun[]): number {
  return runs.reduce((n, run) => n + run.to - run.from, 0);
}

/**
 * The drops of one reason not yet logged, grown a leaf at a time: runs of consecutive leaves
 * and each container's seq ranges. The gateway keeps one per reason in the outbox, rewritten in
 * each transaction that drops something, and logs it as a gap record before each checkpoint.
 */
export class PendingGap {
  private constructor(
    readonly reason: GapReason,
    private since: string,
    private readonly runs: LeafRun[],
    private readonly seqs: Map<string, [number, number][]>,
    private unnumbered: number,
  ) {
    this.bytes = runs.length === 0 ? 0 : this.toJson().length;
  }

  /**
   * About how long its JSON is, kept as leaves are added (a little over, never under), so the
   * gateway can log it before a gap record outgrows an MQTT message without writing it out.
   */
  private bytes: number;

  get approximateBytes(): number {
    return this.bytes;
  }

  static empty(reason: GapReason): PendingGap {
    return new PendingGap(reason, "", [], new Map(), 0);
  }

  /** A pending gap as `toJson` wrote it (the outbox's own row: a malformed one throws). */
  static fromJson(json: string): PendingGap {
    const data = JSON.parse(json) as {
      reason: GapReason;
      since: string;
      ranges: GapRange[];
      readings: GapReadings[];
      unnumbered?: number;
    };
    return new PendingGap(
      data.reason,
      data.since,
      data.ranges.map((r) =>
        LeafRun.of(
          r.from,
          r.to,
          r.hashes.map((h) => Buffer.from(h, "base64")),
        ),
      ),
      new Map(data.readings.map((r) => [r.container_id, r.seqs])),
      data.unnumbered ?? 0,
    );
  }

  get empty(): boolean {
    return this.runs.length === 0;
  }

  /** A dropped leaf: its index, its hash, and whose record it was. */
  add(at: string, index: number, hash: Buffer, containerId: string, seq: number | null): void {
    if (this.since === "") {
      this.since = at;
      this.bytes = 120 + at.length; // the fields around the lists
    }
    let run = this.runs.at(-1);
    if (run === undefined || run.to !== index) {
      // Leaves are dropped oldest first, so a run only grows to the right; anything else (an
      // alert kept while the readings around it went) starts a run of its own.
      run = LeafRun.starting(index);
      this.runs.push(run);
      this.bytes += 60; // {"from":…,"to":…,"hashes":[]}, with indexes of up to 16 digits
    }
    const hashes = run.subtreeHashes.length;
    run.append(hash);
    this.bytes += (run.subtreeHashes.length - hashes) * 47; // "<44 characters of base64>",
    if (seq === null) {
      this.unnumbered++;
      return;
    }
    let spans = this.seqs.get(containerId);
    if (spans === undefined) {
      spans = [];
      this.seqs.set(containerId, spans);
      this.bytes += 40 + containerId.length; // {"container_id":"…","seqs":[]},
    }
    const last = spans.at(-1);
    if (last !== undefined && last[1] + 1 === seq) last[1] = seq;
    else {
      spans.push([seq, seq]);
      this.bytes += 40; // [first,last], with seqs of up to 16 digits (they grow in place)
    }
  }

  private fields() {
    return {
      ranges: this.runs.map((run) => ({
        from: run.from,
        to: run.to,
        hashes: run.subtreeHashes.map((h) => h.toString("base64")),
      })),
      readings: [...this.seqs].map(([container_id, seqs]) => ({ container_id, seqs })),
      ...(this.unnumbered > 0 ? { unnumbered: this.unnumbered } : {}),
    };
  }

  /** For the outbox's row. */
  toJson(): string {
    return JSON.stringify({ reason: this.reason, since: this.since, ...this.fields() });
  }

  /** The gap record that logs it. */
  record(gatewayId: string, at: string): GapRecord {
    return {
      schema: GAP_SCHEMA,
      gateway_id: gatewayId,
      reason: this.reason,
      since: this.since,
      at,
      ...this.fields(),
    };
  }
}

/** The leaves a run stands for, by the subtrees that cover them (for a verifier's walk). */
export function subtreesOfRun(run: DroppedRun) {
  return subtreesOf(run.from, run.to).map((subtree, i) => ({
    ...subtree,
    hash: run.hashes[i] as Buffer,
  }));
}
