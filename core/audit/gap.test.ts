import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";

import {
  checkpointKeyName,
  checkpointOrigin,
  parseVerifierKey,
  signCheckpoint,
  verifierKey,
} from "./checkpoint.js";
import { droppedCount, PendingGap } from "./gap.js";
import { leafBytes } from "./leaf.js";
import { CompactRange, leafHash } from "./merkle.js";
import { verifyLog, type LoggedRecord } from "./verify-log.js";

const GATEWAY = "gw-gap";
const LOG_ID = "0000abcd";
const ORIGIN = checkpointOrigin(GATEWAY, LOG_ID);
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const signer = { name: checkpointKeyName(GATEWAY), privateKey };
const verifier = parseVerifierKey(verifierKey(signer.name, publicKey));

const reading = (i: number): LoggedRecord => ({
  container_id: "C1",
  seq: i + 1,
  temperature: 4,
  log_id: LOG_ID,
  log_index: i,
});

/** A log of `records` (each appended as its leaf), with a checkpoint over all of it. */
function logOf(records: LoggedRecord[]) {
  const range = CompactRange.empty();
  for (const record of records) range.append(leafHash(leafBytes(record)));
  return signCheckpoint({ origin: ORIGIN, size: range.size, root: range.root() }, signer);
}

describe("gap records", () => {
  it("still verifies a log whose drops were declared one leaf at a time (reefer.gap.v1)", () => {
    const readings = Array.from({ length: 6 }, (_, i) => reading(i));
    const gap = {
      schema: "reefer.gap.v1",
      gateway_id: GATEWAY,
      reason: "evicted",
      at: "2026-01-01T00:00:00.000Z",
      leaves: [1, 2].map((i) => ({
        log_index: i,
        leaf_hash: leafHash(leafBytes(readings[i] as LoggedRecord)).toString("base64"),
        container_id: "C1",
        seq: i + 1,
      })),
      log_id: LOG_ID,
      log_index: 6,
    };
    const note = logOf([...readings, gap]);
    const lake = [...readings.filter((_, i) => i !== 1 && i !== 2), gap];
    const verdict = verifyLog(ORIGIN, lake, [note], verifier);
    expect(verdict).toMatchObject({ verifiedSize: 7, missing: [], altered: null });
    expect(droppedCount(verdict.dropped)).toBe(2);
  });

  it("catches a forged subtree hash in a compact gap record (reefer.gap.v2)", () => {
    const readings = Array.from({ length: 20 }, (_, i) => reading(i));
    const pending = PendingGap.empty("evicted");
    for (let i = 2; i < 15; i++)
      pending.add("t", i, leafHash(leafBytes(readings[i] as LoggedRecord)), "C1", i + 1);
    const gap = {
      ...pending.record(GATEWAY, "2026-01-01T00:00:00.000Z"),
      log_id: LOG_ID,
      log_index: 20,
    };
    expect(gap.readings).toEqual([{ container_id: "C1", seqs: [[3, 15]] }]);
    expect(gap.ranges.map((r) => [r.from, r.to, r.hashes.length])).toEqual([[2, 15, 5]]); // [2,4) [4,8) [8,12) [12,14) [14,15)
    const note = logOf([...readings, gap]);
    const lake = [...readings.filter((_, i) => i < 2 || i >= 15), gap];
    expect(verifyLog(ORIGIN, lake, [note], verifier)).toMatchObject({
      verifiedSize: 21,
      missing: [],
      altered: null,
    });
    // Someone who deleted readings 2-14 and wrote a gap record for them cannot make its hashes.
    const forged = structuredClone(gap);
    const range = forged.ranges[0];
    if (!range) throw new Error("no range");
    range.hashes[1] = leafHash(Buffer.from("made up")).toString("base64");
    const verdict = verifyLog(ORIGIN, [...lake.slice(0, -1), forged], [note], verifier);
    expect(verdict.altered).not.toBeNull();
  });

  it("never says its JSON is shorter than it is, so the gateway logs it before it outgrows a message", () => {
    const gap = PendingGap.empty("evicted");
    let index = 1_000_000_000;
    let seq = 5_000_000;
    for (let i = 0; i < 3000; i++) {
      index += i % 7 === 0 ? 3 : 1; // a run broken now and then
      seq += i % 5 === 0 ? 2 : 1;
      gap.add(
        "2026-12-05T10:00:00.000Z",
        index,
        leafHash(Buffer.from(String(i))),
        `C${i % 23}`,
        seq,
      );
      if (i % 100 === 0) expect(gap.approximateBytes).toBeGreaterThanOrEqual(gap.toJson().length);
    }
    expect(gap.approximateBytes).toBeGreaterThanOrEqual(gap.toJson().length);
    expect(gap.approximateBytes).toBeLessThan(gap.toJson().length * 2);
    expect(PendingGap.fromJson(gap.toJson()).approximateBytes).toBe(gap.toJson().length);
  });

  it("names what is wrong with a malformed one", () => {
    const bad = {
      schema: "reefer.gap.v2",
      reason: "evicted",
      ranges: [{ from: 3, to: 9, hashes: ["AAAA"] }],
      readings: [],
      log_id: LOG_ID,
      log_index: 0,
    };
    const verdict = verifyLog(ORIGIN, [bad], [], verifier);
    expect(verdict.alteredBecause.join()).toMatch(
      /gap record at leaf 0: gap range 0: leaves \[3, 9\) take 3 subtree hashes/,
    );
  });
});
