import { HASH_BYTES, nodeHash, treeHash } from "./merkle.js";

/**
 * RFC 6962's proofs (2.1.1, 2.1.2), made from the leaf hashes of a log, in the order RFC 6962
 * and Go's `sumdb/tlog` give them (the hash nearest the leaf first), and checked by the
 * algorithms of RFC 9162 (2.1.3.2, 2.1.4.2), which are written differently from the recursive
 * definitions that make them: each side checks the other in tests, and Go's `tlog.CheckRecord` and
 * `tlog.CheckTree` check what these make (test/audit).
 */

/** The largest power of two smaller than n (n ≥ 2): where RFC 6962 splits a tree of n leaves. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 PATH). */
export function inclusionProof(leaves: readonly Buffer[], index: number, size: number): Buffer[] {
  if (!(index >= 0 && index < size && size <= leaves.length))
    throw new Error(`no inclusion proof of leaf ${index} in a tree of ${size} leaves`);
  return path(index, leaves.slice(0, size));
}

function path(m: number, d: readonly Buffer[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k
    ? [...path(m, d.slice(0, k)), treeHash(d.slice(k))]
    : [...path(m - k, d.slice(k)), treeHash(d.slice(0, k))];
}

/** The proof that the tree of `older` leaves is a prefix of that of `newer` (RFC 6962 PROOF). */
export function consistencyProof(
  leaves: readonly Buffer[],
  older: number,
  newer: number,
): Buffer[] {
  if (!(older > 0 && older <= newer && newer <= leaves.length))
    throw new Error(`no consistency proof from ${older} leaves to ${newer}`);
  return subproof(older, leaves.slice(0, newer), true);
}

function subproof(m: number, d: readonly Buffer[], whole: boolean): Buffer[] {
  if (m === d.length) return whole ? [] : [treeHash(d)];
  const k = split(d.length);
  return m <= k
    ? [...subproof(m, d.slice(0, k), whole), treeHash(d.slice(k))]
    : [...subproof(m - k, d.slice(k), false), treeHash(d.slice(0, k))];
}

/** Whether `proof` shows leaf `index` (hash `leaf`) in the tree of `size` leaves with `root`. */
export function verifyInclusion(
  leaf: Buffer,
  index: number,
  size: number,
  proof: readonly Buffer[],
  root: Buffer,
): boolean {
  if (!(index >= 0 && index < size) || !wellFormed(proof)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

// verifyInclusion and verifyConsistency walk the tree the same way (RFC 9162 writes both walks
// out in full); each is kept as the RFC states it, to be read against it line by line.

/** Whether `proof` shows the tree of `older` leaves (`oldRoot`) a prefix of `newer`'s (`newRoot`). */
export function verifyConsistency(
  older: number,
  newer: number,
  proof: readonly Buffer[],
  oldRoot: Buffer,
  newRoot: Buffer,
): boolean {
  if (!(older > 0 && older <= newer) || !wellFormed(proof)) return false;
  if (older === newer) return proof.length === 0 && oldRoot.equals(newRoot);
  if (proof.length === 0) return false;
  // RFC 9162 2.1.4.2: a power-of-two old tree is itself the first node of the path.
  const path = isPowerOfTwo(older) ? [oldRoot, ...proof] : [...proof];
  let fn = older - 1;
  let sn = newer - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  const [start, ...rest] = path;
  if (start === undefined) return false;
  let fr = start;
  let sr = start;
  for (const c of rest) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(oldRoot) && sr.equals(newRoot) && sn === 0;
}

/** A proof from elsewhere: each element a hash, or the proof proves nothing. */
function wellFormed(proof: readonly Buffer[]): boolean {
  return proof.every((hash) => hash.length === HASH_BYTES);
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}
