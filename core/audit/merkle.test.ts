import { describe, expect, it } from "vitest";

import {
  CompactRange,
  EMPTY_ROOT,
  LeafRun,
  leafHash,
  leafHashOfText,
  nodeHash,
  subtreesOf,
  treeHash,
} from "./merkle.js";
import { consistencyProof, inclusionProof, verifyConsistency, verifyInclusion } from "./proofs.js";

/**
 * RFC 6962's test leaves and the roots of their first 1..8, as Certificate Transparency's own
 * tests give them (certificate-transparency-go, merkle tree test vectors).
 */
const CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"].map((hex) =>
  Buffer.from(hex, "hex"),
);
CT_LEAVES.push(Buffer.from("606162636465666768696a6b6c6d6e6f", "hex"));
const CT_ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const hashes = (n: number): Buffer[] =>
  Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));

describe("the RFC 6962 log", () => {
  it("gives Certificate Transparency's roots for its test leaves, by compact range and by definition", () => {
    const range = CompactRange.empty();
    expect(range.root().toString("hex")).toBe(
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    CT_LEAVES.forEach((leaf, i) => {
      expect(range.append(leafHash(leaf))).toBe(i);
      expect(range.root().toString("hex")).toBe(CT_ROOTS[i]);
      expect(treeHash(CT_LEAVES.slice(0, i + 1).map(leafHash)).toString("hex")).toBe(CT_ROOTS[i]);
    });
  });

  it("keeps one hash per bit of its size, and comes back whole from what it stored", () => {
    const leaves = hashes(300);
    const range = CompactRange.empty();
    for (const [i, leaf] of leaves.entries()) {
      range.append(leaf);
      const stored = CompactRange.decode(range.size, range.encode());
      expect(stored.root().equals(treeHash(leaves.slice(0, i + 1)))).toBe(true);
      expect(range.encode().length).toBe(32 * (i + 1).toString(2).replaceAll("0", "").length);
    }
    expect(CompactRange.decode(0, Buffer.alloc(0)).root().equals(EMPTY_ROOT)).toBe(true);
  });

  it("refuses stored bytes that cannot be a range of that size, saying why", () => {
    expect(() => CompactRange.decode(3, Buffer.alloc(32))).toThrow(
      "a log of 3 leaves keeps 2 hashes (64 bytes), not 32 bytes",
    );
    expect(() => CompactRange.decode(-1, Buffer.alloc(0))).toThrow("whole number ≥ 0, not -1");
  });

  it("lets a clone append without changing the range it came from", () => {
    const range = CompactRange.empty();
    range.append(leafHash(Buffer.from("a")));
    const before = range.root();
    const clone = range.clone();
    clone.append(leafHash(Buffer.from("b")));
    expect(range.root().equals(before)).toBe(true);
    expect(range.size).toBe(1);
    expect(clone.size).toBe(2);
  });

  it("proves every leaf's inclusion in every tree it is in, and no other leaf's", () => {
    const leaves = hashes(33);
    for (let size = 1; size <= leaves.length; size++) {
      const root = treeHash(leaves.slice(0, size));
      for (const [index, leaf] of leaves.slice(0, size).entries()) {
        const proof = inclusionProof(leaves, index, size);
        expect(verifyInclusion(leaf, index, size, proof, root)).toBe(true);
        const other = leaves[(index + 1) % size] ?? leaf;
        if (size > 1) expect(verifyInclusion(other, index, size, proof, root)).toBe(false);
        const otherRoot = treeHash(leaves.slice(0, size - 1));
        if (size > 1) expect(verifyInclusion(leaf, index, size, proof, otherRoot)).toBe(false);
      }
    }
  });

  it("takes a proof with an element that is not a hash for no proof, and a node of one for an error", () => {
    const leaves = hashes(8);
    const root = treeHash(leaves);
    const proof = inclusionProof(leaves, 3, 8);
    const short = [...proof.slice(0, -1), Buffer.alloc(31)];
    expect(verifyInclusion(leaves[3] ?? Buffer.alloc(32), 3, 8, short, root)).toBe(false);
    expect(verifyConsistency(4, 8, [Buffer.alloc(33)], treeHash(leaves.slice(0, 4)), root)).toBe(
      false,
    );
    expect(() => nodeHash(Buffer.alloc(32), Buffer.alloc(33))).toThrow(
      "a node's children are 32-byte hashes, not 32 and 33 bytes",
    );
  });

  it("proves every older tree a prefix of every newer one, and catches a changed leaf", () => {
    const leaves = hashes(33);
    for (let newer = 1; newer <= leaves.length; newer++) {
      const newRoot = treeHash(leaves.slice(0, newer));
      for (let older = 1; older <= newer; older++) {
        const oldRoot = treeHash(leaves.slice(0, older));
        const proof = consistencyProof(leaves, older, newer);
        expect(verifyConsistency(older, newer, proof, oldRoot, newRoot)).toBe(true);
        if (older < newer) {
          const forked = leaves.slice(0, newer);
          forked[older - 1] = leafHash(Buffer.from("edited"));
          const forkedRoot = treeHash(forked.slice(0, older));
          expect(verifyConsistency(older, newer, proof, forkedRoot, newRoot)).toBe(false);
        }
      }
    }
  });

  it("cuts any run of leaves into the fewest aligned subtrees, and a run grown leaf by leaf hashes them", () => {
    const leaves = hashes(70);
    for (let from = 0; from < 40; from++) {
      for (let to = from + 1; to <= leaves.length; to++) {
        const subtrees = subtreesOf(from, to);
        // They tile the run, each aligned, and no more than 2·log2 of its length.
        let at = from;
        for (const { start, height } of subtrees) {
          expect([start, start % 2 ** height]).toEqual([at, 0]);
          at += 2 ** height;
        }
        expect(at).toBe(to);
        expect(subtrees.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(to - from + 1)));
        const run = LeafRun.starting(from);
        for (let i = from; i < to; i++) run.append(leaves[i] as Buffer);
        expect(run.subtreeHashes).toEqual(
          subtrees.map(({ start, height }) => treeHash(leaves.slice(start, start + 2 ** height))),
        );
      }
    }
  });

  it("hashes a text as a leaf of its UTF-8 bytes", () => {
    for (const text of ["", '{"a":1}', "ünïcødé ✓ 𝄞"])
      expect(leafHashOfText(text)).toEqual(leafHash(Buffer.from(text, "utf8")));
  });

  it("gives the same root from a run's subtrees as from its leaves", () => {
    const leaves = hashes(45);
    const [from, to] = [5, 37];
    const range = CompactRange.empty();
    for (const leaf of leaves.slice(0, from)) range.append(leaf);
    for (const { start, height } of subtreesOf(from, to))
      range.appendSubtree(treeHash(leaves.slice(start, start + 2 ** height)), height);
    for (const leaf of leaves.slice(to)) range.append(leaf);
    expect(range.size).toBe(leaves.length);
    expect(range.root()).toEqual(treeHash(leaves));
    expect(() => CompactRange.empty().appendSubtree(leaves[0] as Buffer, 0)).not.toThrow();
    const odd = CompactRange.empty();
    odd.append(leaves[0] as Buffer);
    expect(() => odd.appendSubtree(leaves[1] as Buffer, 1)).toThrow(
      "a subtree of 2 leaves cannot start at leaf 1: it is not aligned",
    );
    expect(() => LeafRun.of(3, 9, [leaves[0] as Buffer])).toThrow(
      "leaves [3, 9) take 3 subtree hashes of 32 bytes, not 1",
    );
  });
});
