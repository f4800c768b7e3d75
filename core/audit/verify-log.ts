import {
  isSignedBy,
  readCheckpoint,
  type Checkpoint,
  type NoteVerifier,
  type ReadCheckpoint,
} from "./checkpoint.js";
import { droppedRuns, isGapRecord, subtreesOfRun, type DroppedRun } from "./gap.js";
import { leafBytes, LOG_INDEX_FIELD } from "./leaf.js";
import { CompactRange, leafHash, treeHash } from "./merkle.js";

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
   * Runs of leaves the gateway dropped on purpose and declared in a gap record (evicted, dropped
   * by report by exception, dead-lettered): absent from the lake, their subtree hashes taken
   * from the gap record so the roots can still be recomputed. Not missing, but not present.
   */
  dropped: DroppedRun[];
  /**
   * Where the lake holds some records of a run the gateway dropped (published, then evicted
   * before the broker's acknowledgement), but not all: the roots were recomputed from the gap
   * record's subtree hash, so nothing proves those records. The voyage report names them.
   */
  coveredByGap: LeafRange[];
  /** Checkpoints whose size falls inside a dropped subtree: not recomputable, covered by later ones. */
  unreachableCheckpoints: number;
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
  // A dropped run's subtrees stand in for records the lake lacks. Where the lake has all of a
  // subtree's records after all (dropped after they were published), they must be the ones its
  // hash names; where it has only some, the subtree is used, and those records are unproven.
  const dropped = new Map<string, DroppedRun>();
  const subtrees = new Map<number, Subtree>();
  const coveredByGap: LeafRange[] = [];
  for (const record of records) {
    if (!isGapRecord(record)) continue;
    let declared: DroppedRun[];
    try {
      declared = droppedRuns(record);
    } catch (error) {
      unreadable.push(
        `gap record at leaf ${String(record[LOG_INDEX_FIELD])}: ${(error as Error).message}`,
      );
      continue;
    }
    for (const run of declared) {
      const key = `${run.from} ${run.to} ${run.reason}`;
      if (dropped.has(key)) continue; // the same gap record delivered twice
      dropped.set(key, run);
      for (const { start, height, hash } of subtreesOfRun(run)) {
        const width = 2 ** height;
        const inLake: Buffer[] = [];
        for (let i = start; i < start + width; i++) {
          const leaf = leaves.get(i);
          if (leaf !== undefined) inLake.push(leaf);
        }
        if (inLake.length === width) {
          if (!treeHash(inLake).equals(hash)) conflicts.push(start);
          continue;
        }
        const seen = subtrees.get(start);
        if (seen === undefined) subtrees.set(start, { height, hash });
        else if (seen.height !== height || !seen.hash.equals(hash)) conflicts.push(start);
        if (inLake.length > 0) coveredByGap.push({ from: start, to: start + width });
      }
    }
  }
  return {
    leaves,
    subtrees,
    dropped: [...dropped.values()].sort((a, b) => a.from - b.from),
    coveredByGap: coveredByGap.sort((a, b) => a.from - b.from),
    conflicts: [...new Set(conflicts)].sort((a, b) => a - b),
    unreadable,
    unlogged,
  };
}

/** A dropped subtree the walk takes in one step: leaves [start, start + 2^height). */
type Subtree = { height: number; hash: Buffer };

/** Ranges of the indexes in [0, end) that neither a record nor a dropped subtree covers. */
function gaps(
  present: ReadonlyMap<number, unknown>,
  subtrees: ReadonlyMap<number, Subtree>,
  end: number,
): LeafRange[] {
  const ranges: LeafRange[] = [];
  let from: number | null = null;
  for (let i = 0; i < end;) {
    const subtree = subtrees.get(i);
    const width = subtree ? 2 ** subtree.height : 1;
    if (subtree === undefined && !present.has(i)) from ??= i;
    else if (from !== null) {
      ranges.push({ from, to: i });
      from = null;
    }
    i += width;
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
  const { leaves, subtrees, dropped, coveredByGap, conflicts, unreadable, unlogged } =
    leavesByIndex(records);
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
  let unreachableCheckpoints = 0;
  for (const [i, c] of candidates.entries()) {
    const checkpoint: Checkpoint = c.read.checkpoint;
    let inside: Subtree | undefined;
    while (range.size < checkpoint.size) {
      const subtree = subtrees.get(range.size);
      if (subtree !== undefined) {
        if (range.size + 2 ** subtree.height > checkpoint.size) {
          inside = subtree;
          break;
        }
        range.appendSubtree(subtree.hash, subtree.height);
        continue;
      }
      const leaf = leaves.get(range.size);
      if (leaf === undefined) break;
      range.append(leaf);
    }
    if (inside !== undefined) {
      // Signed while leaves it covers were still on the gateway, which later dropped them as
      // part of a larger subtree: its root cannot be recomputed, and a later checkpoint covers
      // all it did.
      unreachableCheckpoints++;
      continue;
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
  for (const [start, { height }] of subtrees) highest = Math.max(highest, start + 2 ** height - 1);
  const end = Math.max(signedSize, highest + 1);
  const missing = gaps(leaves, subtrees, end);
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
    coveredByGap,
    unreachableCheckpoints,
    unlogged,
  };
}
