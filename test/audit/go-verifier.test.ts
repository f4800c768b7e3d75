import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  checkpointOrigin,
  openCheckpoint,
  parseVerifierKey,
  signCheckpoint,
  verifierKey,
} from "../../core/audit/checkpoint.js";
import { CompactRange, leafHash } from "../../core/audit/merkle.js";
import { consistencyProof, inclusionProof } from "../../core/audit/proofs.js";
import { makeTempDir } from "../support/tmp.js";
import { requireTool } from "../support/tools.js";

/**
 * The audit log checked by an independent verifier: test/audit/tlog-check, a Go program over
 * golang.org/x/mod/sumdb/tlog and note (Go's checksum database, from the Go module proxy) that
 * knows the specifications and none of our code. It opens our signed checkpoints, recomputes
 * their roots from the leaves, and checks the inclusion and consistency proofs we make.
 */

type GoCase = {
  vkey: string;
  notes: string[];
  leaves: string[];
  inclusion?: { index: number; size: number; proof: string[] }[];
  consistency?: { older: number; newer: number; proof: string[] }[];
};
type GoResult = {
  checkpoints: { error?: string; origin?: string; size: number; rootMatches: boolean }[];
  inclusion: string[] | null;
  consistency: string[] | null;
  roots: Record<string, string>;
};

const go = requireTool("go", "the Go toolchain (the polyglot machine has it in /usr/local/go/bin)");
let checker = "";
const work = makeTempDir("tlog-check-");
afterAll(() => work.cleanup());

beforeAll(() => {
  if (go.skip) return;
  checker = join(work.dir, "tlog-check");
  const built = spawnSync(go.path ?? "go", ["build", "-o", checker, "."], {
    cwd: join(import.meta.dirname, "tlog-check"),
    encoding: "utf8",
  });
  if (built.status !== 0) throw new Error(`go build of tlog-check failed:\n${built.stderr}`);
}, 300_000);

function runGo(input: GoCase): GoResult {
  const run = spawnSync(checker, [], { input: JSON.stringify(input), encoding: "utf8" });
  if (run.status !== 0) throw new Error(`tlog-check failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as GoResult;
}

const b64 = (b: Buffer): string => b.toString("base64");

/** A log of `n` reading-like records, its checkpoints signed at `sizes`. */
function makeLog(n: number, sizes: number[]) {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const origin = checkpointOrigin("gw-audit-1");
  const records = Array.from({ length: n }, (_, i) =>
    Buffer.from(
      JSON.stringify({ container_id: "MSKU1234565", seq: i + 1, temperature: -18 + (i % 5) / 10 }),
    ),
  );
  const leaves = records.map(leafHash);
  const range = CompactRange.empty();
  const notes: string[] = [];
  for (const leaf of leaves) {
    range.append(leaf);
    if (sizes.includes(range.size))
      notes.push(
        signCheckpoint(
          { origin, size: range.size, root: range.root() },
          { name: origin, privateKey },
        ),
      );
  }
  return { origin, records, leaves, notes, vkey: verifierKey(origin, publicKey) };
}

describe.skipIf(go.skip)("the audit log against Go's sumdb/tlog and note", () => {
  it("Go opens every checkpoint we sign and finds its root in the leaves", () => {
    const sizes = [1, 2, 3, 7, 8, 9, 64, 100, 257];
    const log = makeLog(257, sizes);
    const result = runGo({ vkey: log.vkey, notes: log.notes, leaves: log.records.map(b64) });
    expect(result.checkpoints).toEqual(
      sizes.map((size) => ({ origin: log.origin, size, rootMatches: true })),
    );
    // And we open them too, with the key as Go reads it.
    const verifier = parseVerifierKey(log.vkey);
    for (const note of log.notes) expect(openCheckpoint(note, verifier).ok).toBe(true);
  });

  it("Go refuses a checkpoint signed by another key, or edited after signing", () => {
    const log = makeLog(5, [5]);
    const [strangers = ""] = makeLog(5, [5]).notes;
    const edited = (log.notes[0] ?? "").replace(/^5$/m, "4");
    const result = runGo({
      vkey: log.vkey,
      notes: [strangers, edited],
      leaves: log.records.map(b64),
    });
    expect(result.checkpoints.map((c) => c.error)).toEqual([
      "note has no verifiable signatures",
      expect.stringMatching(/^invalid signature for key reefer-edge\/gw-audit-1\+[0-9a-f]{8}$/),
    ]);
    const verifier = parseVerifierKey(log.vkey);
    expect(openCheckpoint(strangers, verifier)).toMatchObject({ ok: false });
    expect(openCheckpoint(edited, verifier)).toMatchObject({ ok: false });
  });

  it("Go checks our inclusion proofs of every leaf and our consistency proofs between every two sizes", () => {
    const n = 40;
    const log = makeLog(n, [n]);
    const inclusion: NonNullable<GoCase["inclusion"]> = [];
    const consistency: NonNullable<GoCase["consistency"]> = [];
    for (let size = 1; size <= n; size++) {
      for (let index = 0; index < size; index++)
        inclusion.push({ index, size, proof: inclusionProof(log.leaves, index, size).map(b64) });
      for (let older = 1; older <= size; older++)
        consistency.push({
          older,
          newer: size,
          proof: consistencyProof(log.leaves, older, size).map(b64),
        });
    }
    const result = runGo({
      vkey: log.vkey,
      notes: [],
      leaves: log.records.map(b64),
      inclusion,
      consistency,
    });
    expect(result.inclusion?.length).toBe(inclusion.length);
    expect(new Set(result.inclusion)).toEqual(new Set(["ok"]));
    expect(result.consistency?.length).toBe(consistency.length);
    expect(new Set(result.consistency)).toEqual(new Set(["ok"]));
    // Every root our compact range gives is the one Go computes.
    const range = CompactRange.empty();
    for (const leaf of log.leaves) {
      range.append(leaf);
      expect(b64(range.root())).toBe(result.roots[String(range.size)]);
    }
  });

  it("Go rejects a proof with a hash changed", () => {
    const log = makeLog(12, [12]);
    const proof = inclusionProof(log.leaves, 5, 12);
    proof[1] = leafHash(Buffer.from("not in the log"));
    const tree = consistencyProof(log.leaves, 5, 12);
    tree[0] = leafHash(Buffer.from("not in the log"));
    const result = runGo({
      vkey: log.vkey,
      notes: [],
      leaves: log.records.map(b64),
      inclusion: [{ index: 5, size: 12, proof: proof.map(b64) }],
      consistency: [{ older: 5, newer: 12, proof: tree.map(b64) }],
    });
    expect(result.inclusion).toEqual(["invalid transparency proof"]);
    expect(result.consistency).toEqual(["invalid transparency proof"]);
  });
});
