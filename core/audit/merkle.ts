import { createHash, hash } from "node:crypto";

/**
 * RFC 6962 (2.1) Merkle tree hashing, the tree of Certificate Transparency and of Go's checksum
 * database, so that a log the gateway keeps can be checked by tools that know nothing of ours
 * (golang.org/x/mod/sumdb/tlog checks it in test/audit). Written here rather than taken from a
 * library: the npm packages for Merkle trees hash leaves without RFC 6962's 0x00/0x01 prefixes
 * (or make them an option that is easy to get wrong), and none keeps a compact range, the few
 * hashes that let a gateway append forever while storing about 20 of them.
 */

/** Every hash of the log: SHA-256, 32 bytes. */
export const HASH_BYTES = 32;

/** A leaf's hash: SHA-256(0x00 || its bytes). The prefix keeps a leaf from passing as a node. */
export function leafHash(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(LEAF_PREFIX).update(bytes).digest();
}

/**
 * The leaf hash of a text, its bytes UTF-8: crypto.hash's one-shot call over the prefix and the
 * text, without a Hash object or a Buffer of the text (the gateway's path: one a reading).
 */
export function leafHashOfText(text: string): Buffer {
  return hash("sha256", `\u0000${text}`, "buffer");
}

/** An interior node's hash: SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES)
    throw new Error(
      `a node's children are ${HASH_BYTES}-byte hashes, not ${left.length} and ${right.length} bytes`,
    );
  // One buffer and crypto.hash's one-shot call: 1.5x the speed of a Hash object per node, and
  // a verifier of a voyage hashes as many nodes as leaves.
  NODE_INPUT.set(left, 1);
  NODE_INPUT.set(right, 1 + HASH_BYTES);
  return hash("sha256", NODE_INPUT, "buffer");
}

/** The root of the empty tree: SHA-256 of nothing (RFC 6962: MTH({}) = SHA-256()). */
export const EMPTY_ROOT: Buffer = createHash("sha256").digest();

const LEAF_PREFIX = Buffer.from([0]);
const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_BYTES, 1);

/**
 * The compact range [0, size): the roots of the perfect subtrees that the binary form of `size`
 * cuts the tree into, largest (leftmost) first, one per bit set. Appending a leaf merges the
 * subtrees it completes, as a binary counter carries; the tree's root folds them right to left.
 * A log of a billion leaves holds at most 30 hashes.
 */
export class CompactRange {
  private constructor(
    private leaves: number,
    private readonly roots: Buffer[],
  ) {}

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** A range as `encode` wrote it; throws on bytes that cannot be one (where is the caller's to name). */
  static decode(size: number, bytes: Uint8Array): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new Error(`a log size must be a whole number ≥ 0, not ${size}`);
    const expected = popcount(size) * HASH_BYTES;
    if (bytes.length !== expected)
      throw new Error(
        `a log of ${size} leaves keeps ${expected / HASH_BYTES} hashes (${expected} bytes), ` +
          `not ${bytes.length} bytes`,
      );
    const roots: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += HASH_BYTES)
      roots.push(Buffer.from(bytes.subarray(at, at + HASH_BYTES)));
    return new CompactRange(size, roots);
  }

  get size(): number {
    return this.leaves;
  }

  /** The hashes, concatenated, for storage beside `size`. */
  encode(): Buffer {
    return Buffer.concat(this.roots);
  }

  /** A copy to append to without touching this one (a transaction that may roll back). */
  clone(): CompactRange {
    return new CompactRange(this.leaves, this.roots.slice());
  }

  /** Appends one leaf by its hash (`leafHash`); returns the leaf's index. */
  append(hash: Buffer): number {
    const index = this.leaves;
    let carry = hash;
    // Each low bit set in the old size is a subtree of the same height as the carry, to its left.
    for (let bits = index; bits % 2 === 1; bits = Math.floor(bits / 2)) {
      const left = this.roots.pop();
      if (left === undefined) throw new Error("compact range lost a subtree (corrupt state)");
      carry = nodeHash(left, carry);
    }
    this.roots.push(carry);
    this.leaves = index + 1;
    return index;
  }

  /**
   * Appends a perfect subtree of 2^height leaves by its root hash, as a verifier does for a run
   * of leaves it knows only as a gap record's subtree hash. The subtree must start where the
   * range ends and be aligned (the range's size a multiple of 2^height), as the subtrees that
   * `subtreesOf` names are.
   */
  appendSubtree(hash: Buffer, height: number): void {
    const width = 2 ** height;
    if (this.leaves % width !== 0)
      throw new Error(
        `a subtree of ${width} leaves cannot start at leaf ${this.leaves}: it is not aligned`,
      );
    let carry = hash;
    for (let bits = this.leaves / width; bits % 2 === 1; bits = Math.floor(bits / 2)) {
      const left = this.roots.pop();
      if (left === undefined) throw new Error("compact range lost a subtree (corrupt state)");
      carry = nodeHash(left, carry);
    }
    this.roots.push(carry);
    this.leaves += width;
  }

  /** The tree's root hash (RFC 6962's MTH over all leaves so far). */
  root(): Buffer {
    return (
      this.roots.reduceRight<Buffer | null>(
        (right, left) => (right === null ? left : nodeHash(left, right)),
        null,
      ) ?? EMPTY_ROOT
    );
  }
}

/** The number of bits set: how many subtrees a range of `n` leaves holds. */
function popcount(n: number): number {
  let count = 0;
  for (let bits = n; bits > 0; bits = Math.floor(bits / 2)) count += bits % 2;
  return count;
}

/**
 * RFC 6962's MTH over a list of leaf hashes, by its recursive definition (2.1): slower than a
 * compact range, and written apart from it on purpose, so that each checks the other in tests.
 */
export function treeHash(leaves: readonly Buffer[]): Buffer {
  const [first] = leaves;
  if (first === undefined) return EMPTY_ROOT;
  if (leaves.length === 1) return first;
  let split = 1;
  while (split * 2 < leaves.length) split *= 2;
  return nodeHash(treeHash(leaves.slice(0, split)), treeHash(leaves.slice(split)));
}

/** A perfect subtree of the log: leaves [start, start + 2^height), start a multiple of 2^height. */
export type Subtree = { start: number; height: number };

/**
 * The fewest perfect, aligned subtrees that cover the leaves [from, to), left to right: a run of
 * n leaves takes at most 2·log2(n) of them. Their hashes stand in for the run's leaves wherever
 * a root is recomputed (transparency-dev's compact ranges cut a range the same way).
 */
export function subtreesOf(from: number, to: number): Subtree[] {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from)
    throw new Error(`[${from}, ${to}) is not a range of leaves`);
  const subtrees: Subtree[] = [];
  let start = from;
  while (start < to) {
    let height = 0;
    // Grow while the subtree stays aligned at `start` and inside the range.
    while (start % 2 ** (height + 1) === 0 && start + 2 ** (height + 1) <= to) height++;
    subtrees.push({ start, height });
    start += 2 ** height;
  }
  return subtrees;
}

/**
 * A run of consecutive leaves known by the hashes of `subtreesOf(from, to)`, grown one leaf at
 * a time on the right: each leaf merges with the subtrees it completes, as a compact range does,
 * but starting anywhere. How the gateway names a run of dropped leaves without keeping each.
 */
export class LeafRun {
  private constructor(
    readonly from: number,
    private end: number,
    private readonly hashes: Buffer[],
  ) {}

  static starting(from: number): LeafRun {
    return new LeafRun(from, from, []);
  }

  /** A run as `hashesOf` gave it; throws when the hashes cannot be those of [from, to). */
  static of(from: number, to: number, hashes: readonly Buffer[]): LeafRun {
    const expected = subtreesOf(from, to).length;
    if (hashes.length !== expected || hashes.some((h) => h.length !== HASH_BYTES))
      throw new Error(
        `leaves [${from}, ${to}) take ${expected} subtree hashes of ${HASH_BYTES} bytes, not ${hashes.length}`,
      );
    return new LeafRun(from, to, [...hashes]);
  }

  get to(): number {
    return this.end;
  }

  /** The subtree hashes of [from, to), left to right (subtreesOf's order). */
  get subtreeHashes(): readonly Buffer[] {
    return this.hashes;
  }

  /** Appends the leaf at index `to` by its hash. */
  append(hash: Buffer): void {
    this.hashes.push(hash);
    this.end++;
    // The subtrees of the new range: where its last ones are now siblings, they merge.
    const shape = subtreesOf(this.from, this.end);
    while (this.hashes.length > shape.length) {
      const right = this.hashes.pop();
      const left = this.hashes.pop();
      if (left === undefined || right === undefined) throw new Error("leaf run lost a subtree");
      this.hashes.push(nodeHash(left, right));
    }
  }
}
