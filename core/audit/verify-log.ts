import {
  isSignedBy,
  readCheckpoint,
  type Checkpoint,
  type NoteVerifier,
  type ReadCheckpoint,
} from "./checkpoint.js";
import { droppedLeaves, isGapRecord, type DroppedLeaf } from "./gap.js";
import { leafBytes, LOG_INDEX_FIELD } from "./leaf.js";
import { CompactRange, leafHash } from "./merkle.js";

/**
 * Checks one gateway's log as the lake holds it: its records (in any order, delivered once or
 * more) against its signed checkpoints. Nothing is trusted but the gateway's checkpoint key:
 * each checkpoint's root is recomputed from the records, so an edited, deleted, inserted or
 * reordered record changes the root of every checkpoint after it.
 *
 * Signatures are checked where the verdict rests on them, not on every checkpoint: a gateway
 * signs every minute, so a 30-day voyage brings tens of thousands, and an Ed25519 check costs as
 * much as hashing a hundred leaves. The largest checkpoint whose root the records reproduce is
 * checked (its root covers every leaf before it, so the smaller ones that agree add nothing), and
 * so is every one that disagrees (a valid signature there means a record was altered; an invalid
 * one, a forged checkpoint).
 */

/** Leaf indexes [from, to). */
export type LeafRange = { from: number; to: number };

export type LogVerdict = {
  origin: string;
  /** Distinct leaves found (duplicates folded). */
  leaves: number;
  /** Checkpoints that open with the key, by size. */
  checkpoints: number;
  /** The largest checkpoint whose root the records reproduce: what is proven complete and intact. */
  verifiedSize: number;
  /** Leaf indexes below the largest signed size, or between records, that no record carries. */
  missing: LeafRange[];
  /** Where a record differs from what was signed: from the last good checkpoint to the first bad. */
  altered: LeafRange | null;
  /** Why `altered`: a root that differs, two records at one index, a forged checkpoint. */
  alteredBecause: string[];
  /** Leaves past the last checkpoint: present, but no signature covers them yet. */
  unverifiedTail: LeafRange | null;
  /** Checkpoints that did not open (not signed by the key, not for this log), with why. */
  rejectedCheckpoints: string[];
  /**
   * Leaves the gateway dropped on purpose and declared in a gap record (evicted, dropped by
   * report by exception, dead-lettered): absent from the lake, their hashes taken from the gap
   * record so the roots can still be recomputed. Not missing, but not present either.
   */
  dropped: DroppedLeaf[];
  /**
   * Records with no log index: captured outside the log (by a version without it, or published
   * from memory before any commit under write-behind). Nothing proves them; the voyage report
   * names them.
   */
  unlogged: number;
};

export type LoggedRecord = Readonly<Record<string, unknown>>;

/**
 * Each frozen record object's leaf hash, once: a verifier run over the same lake objects again
 * (the tamper harness, a report per container) hashes only what it has not seen. Only frozen
 * ones: a record changed in place after its hash was kept would pass for what it was.
 */
const hashed = new WeakMap<LoggedRecord, Buffer>();

function hashOf(record: LoggedRecord): Buffer {
  if (!Object.isFrozen(record)) return leafHash(leafBytes(record));
  let hash = hashed.get(record);
  if (hash === undefined) {
    hash = leafHash(leafBytes(record));
    hashed.set(record, hash);
  }
  return hash;
}

/**
 * Each note read once, and each signature checked once per verifier: the tamper harness judges
 * the same checkpoints thousands of times. Safe to keep: a note is a string, and cannot change.
 */
const readNotes = new Map<string, ReadCheckpoint>();
const signatures = new WeakMap<NoteVerifier, Map<string, true | string>>();

function readOnce(note: string): ReadCheckpoint {
  let read = readNotes.get(note);
  if (read === undefined) {
    if (readNotes.size > 100_000) readNotes.clear();
    readNotes.set(note, (read = readCheckpoint(note)));
  }
  return read;
}

function signedOnce(
  note: string,
  read: Extract<ReadCheckpoint, { ok: true }>,
  verifier: NoteVerifier,
) {
  let checked = signatures.get(verifier);
  if (checked === undefined) signatures.set(verifier, (checked = new Map<string, true | string>()));
  let signed = checked.get(note);
  if (signed === undefined) checked.set(note, (signed = isSignedBy(read, verifier)));
  return signed;
}

/** The records' leaf hashes by index; a second, different record at an index is a conflict. */
function leavesByIndex(records: readonly LoggedRecord[]) {
  const leaves = new Map<number, Buffer>();
  const conflicts: number[] = [];
  const unreadable: string[] = [];
  let unlogged = 0;
  for (const record of records) {
    const index = record[LOG_INDEX_FIELD];
    if (index === undefined) {
      unlogged++; // captured outside the log: judged by the voyage report, not here
      continue;
    }
    if (typeof index !== "number" || !Number.isSafeInteger(index) || index < 0) {
      unreadable.push(
        `a record with no valid ${LOG_INDEX_FIELD}: ${JSON.stringify(record).slice(0, 120)}`,
      );
      continue;
    }
    let hash: Buffer;
    try {
      hash = hashOf(record);
    } catch (error) {
      unreadable.push(`leaf ${index}: ${(error as Error).message}`);
      continue;
    }
    const seen = leaves.get(index);
    if (seen === undefined) leaves.set(index, hash);
    else if (!seen.equals(hash)) conflicts.push(index);
  }
  // A dropped leaf stands in for a record the lake lacks; where the lake has the record after
  // all (dropped after it was published), the record must be the one the hash names.
  const dropped: DroppedLeaf[] = [];
  for (const record of records) {
    if (!isGapRecord(record)) continue;
    let declared: DroppedLeaf[];
    try {
      declared = droppedLeaves(record);
    } catch (error) {
      unreadable.push(
        `gap record at leaf ${String(record[LOG_INDEX_FIELD])}: ${(error as Error).message}`,
      );
      continue;
    }
    for (const leaf of declared) {
      const seen = leaves.get(leaf.index);
      if (seen === undefined) {
        leaves.set(leaf.index, leaf.hash);
        dropped.push(leaf);
      } else if (!seen.equals(leaf.hash)) conflicts.push(leaf.index);
    }
  }
  dropped.sort((a, b) => a.index - b.index);
  return {
    leaves,
    dropped: dropped.filter((leaf, i) => dropped[i - 1]?.index !== leaf.index),
    conflicts: [...new Set(conflicts)].sort((a, b) => a - b),
    unreadable,
    unlogged,
  };
}

/** Ranges of the indexes in [0, end) that `present` lacks. */
function gaps(present: ReadonlyMap<number, unknown>, end: number): LeafRange[] {
  const ranges: LeafRange[] = [];
  let from: number | null = null;
  for (let i = 0; i < end; i++) {
    if (!present.has(i)) from ??= i;
    else if (from !== null) {
      ranges.push({ from, to: i });
      from = null;
    }
  }
  if (from !== null) ranges.push({ from, to: end });
  return ranges;
}

type Candidate = { note: string; read: Extract<ReadCheckpoint, { ok: true }> };

export function verifyLog(
  origin: string,
  records: readonly LoggedRecord[],
  notes: readonly string[],
  verifier: NoteVerifier,
): LogVerdict {
  const { leaves, dropped, conflicts, unreadable, unlogged } = leavesByIndex(records);
  const alteredBecause: string[] = [...unreadable];
  const rejectedCheckpoints: string[] = [];
  const reject = (c: Candidate, why: string) =>
    rejectedCheckpoints.push(`the checkpoint of ${c.read.checkpoint.size} leaves: ${why}`);
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for (const note of notes) {
    if (seen.has(note)) continue; // the same note delivered twice
    seen.add(note);
    const read = readOnce(note);
    if (!read.ok) rejectedCheckpoints.push(read.reason);
    else if (read.checkpoint.origin !== origin)
      rejectedCheckpoints.push(`a checkpoint of ${read.checkpoint.origin}, not of ${origin}`);
    else candidates.push({ note, read });
  }
  candidates.sort((a, b) => a.read.checkpoint.size - b.read.checkpoint.size);
  const signed = (c: Candidate): boolean => {
    const verdict = signedOnce(c.note, c.read, verifier);
    if (verdict !== true) reject(c, verdict);
    return verdict === true;
  };

  // One pass over the contiguous prefix, comparing each checkpoint's root as its size is reached.
  const range = CompactRange.empty();
  const agreeing: Candidate[] = [];
  let beyond: Candidate[] = [];
  let altered: LeafRange | null = null;
  for (const [i, c] of candidates.entries()) {
    const checkpoint: Checkpoint = c.read.checkpoint;
    while (range.size < checkpoint.size) {
      const leaf = leaves.get(range.size);
      if (leaf === undefined) break;
      range.append(leaf);
    }
    if (range.size < checkpoint.size) {
      beyond = candidates.slice(i); // past a missing leaf: nothing there can be recomputed
      break;
    }
    if (range.root().equals(checkpoint.root)) agreeing.push(c);
    else if (signed(c)) {
      const from = agreeing.at(-1)?.read.checkpoint.size ?? 0;
      altered = { from, to: checkpoint.size };
      alteredBecause.push(
        `the records give another root for the first ${checkpoint.size} leaves than the gateway signed`,
      );
      break;
    }
  }
  // The largest agreeing checkpoint that the gateway signed proves every leaf below it.
  let verifiedSize = 0;
  for (const c of [...agreeing].reverse()) {
    if (!signed(c)) continue;
    verifiedSize = c.read.checkpoint.size;
    break;
  }
  if (altered && altered.from > verifiedSize) altered = { from: verifiedSize, to: altered.to };
  // How far the gateway's signatures reach, past a hole too: the largest signed checkpoint.
  let signedSize = altered?.to ?? verifiedSize;
  for (const c of [...beyond].reverse()) {
    if (c.read.checkpoint.size <= signedSize || !signed(c)) continue;
    signedSize = c.read.checkpoint.size;
    break;
  }
  // A checkpoint that does not open was not made by the gateway: someone replaced or forged it.
  for (const reason of rejectedCheckpoints) alteredBecause.push(`checkpoint rejected: ${reason}`);
  let highest = -1;
  for (const index of leaves.keys()) highest = Math.max(highest, index);
  const end = Math.max(signedSize, highest + 1);
  const missing = gaps(leaves, end);
  const checkpoints = candidates.length;

  // Two records at one index: one of them is not the gateway's, whichever the root agreed with.
  const conflict = conflicts[0];
  if (conflict !== undefined) {
    alteredBecause.push(`two different records at leaf ${conflicts.slice(0, 5).join(", ")}`);
    const sizes = candidates.map((c) => c.read.checkpoint.size);
    const from = sizes.reduce((last, size) => (size <= conflict ? size : last), 0);
    const to = sizes.find((size) => size > conflict) ?? end;
    if (altered === null || from < altered.from) altered = { from, to };
  }
  if (altered === null && alteredBecause.length > 0) altered = { from: verifiedSize, to: end };
  const tailFrom = Math.max(signedSize, verifiedSize);
  return {
    origin,
    leaves: leaves.size,
    checkpoints,
    verifiedSize,
    missing,
    altered,
    alteredBecause,
    unverifiedTail: highest + 1 > tailFrom ? { from: tailFrom, to: highest + 1 } : null,
    rejectedCheckpoints,
    dropped,
    unlogged,
  };
}
