import { generateKeyPairSync } from "node:crypto";

import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { describe, expect, it } from "vitest";

import { parseVerifierKey, signCheckpoint } from "../../core/audit/checkpoint.js";
import { droppedCount } from "../../core/audit/gap.js";
import { EMPTY_ROOT } from "../../core/audit/merkle.js";
import { verifyLog, type LoggedRecord, type LogVerdict } from "../../core/audit/verify-log.js";
import { voyageReport } from "../../core/audit/voyage.js";
import { makeVoyage, type Voyage } from "../support/audit-voyage.js";

/**
 * The tamper harness: a 30-day voyage's log (two containers, a reading every four hours, a
 * checkpoint every 6 leaves, duplicates, any order, clock-corrected readings, the edge's alerts,
 * readings evicted by a full disk and dropped by report by exception, declared in gap records),
 * then random
 * tamperings of every kind an insider with write access to the lake could try. Each must be
 * found, at the leaves it touched; clean voyages must give no alarm at all.
 * REEFER_EDGE_TAMPERINGS sets how many (CI: 10,000).
 */
const TAMPERINGS = Number(process.env.REEFER_EDGE_TAMPERINGS ?? 10_000);
const CLEAN_VOYAGES = 100;

// Small enough that 10,000 verifications take seconds, not minutes, on a busy CI core: a
// reading every four hours (360 leaves); every kind of tampering still has room.
const voyage = makeVoyage({
  seed: 7,
  days: 30,
  intervalMinutes: 240,
  containers: 2,
  checkpointEvery: 6,
  drops: true,
  alerts: true,
});
const verifier = parseVerifierKey(voyage.vkey);

type Tampered = {
  kind: string;
  records: LoggedRecord[];
  checkpoints: string[];
  /** A leaf the verdict's missing or altered range must hold; null: a checkpoint was forged. */
  leaf: number | null;
  /**
   * A gap record was changed, moved or replaced: the first break the verifier can see is then
   * at a leaf it declared (now missing), before the touched one, and every root past that break
   * is beyond recomputing. The touched leaf must then lie past what the verdict proved.
   */
  touchesGap?: boolean;
};

const KINDS = [
  "edit",
  "delete",
  "reorder",
  "insert",
  "replay",
  "swap-containers",
  "replace-checkpoint",
  "truncate",
] as const;

function tamper(v: Voyage, rng: ReturnType<typeof xoroshiro128plus>): Tampered {
  const random = (n: number): number => uniformInt(rng, 0, n - 1);
  const kind = KINDS[random(KINDS.length)] ?? "edit";
  const indexOf = (r: LoggedRecord): number => r.log_index as number;
  const byLeaf = (leaf: number): LoggedRecord => {
    const found = v.records.find((r) => indexOf(r) === leaf);
    if (!found) throw new Error(`the voyage has no leaf ${leaf}`);
    return found;
  };
  const replaceLeaf = (leaf: number, make: (r: LoggedRecord) => LoggedRecord): LoggedRecord[] =>
    v.records.map((r) => (indexOf(r) === leaf ? Object.freeze(make(r)) : r));
  // Leaves the lake holds (the dropped ones it never had), and the readings among them.
  const present = [...new Set(v.records.map(indexOf))].sort((a, b) => a - b);
  const readings = present.filter((i) => byLeaf(i).schema === undefined);
  const pick = (from: readonly number[]) => from[random(from.length)] ?? 0;
  const leaf = pick(present);
  const checkpoints = [...v.checkpoints];
  const isGap = (i: number) => String(byLeaf(i).schema).startsWith("reefer.gap.");
  const gapAtOrAfter = (i: number) => present.some((p) => p >= i && isGap(p));
  switch (kind) {
    case "edit": {
      const delta = (1 + random(30)) / 10;
      return {
        kind,
        leaf,
        checkpoints,
        touchesGap: isGap(leaf),
        records: replaceLeaf(leaf, (r) =>
          r.schema === undefined
            ? { ...r, temperature: (r.temperature as number) - delta }
            : r.schema === "reefer.alert.v1"
              ? // An alert played down: what the edge raised made to look harmless.
                { ...r, severity: "info", value: (r.value as number) - delta }
              : // A gap record's reason rewritten: a deletion passed off as an eviction, or back.
                { ...r, reason: r.reason === "evicted" ? "dead_letter" : "evicted" },
        ),
      };
    }
    case "delete":
      return {
        kind,
        leaf,
        checkpoints,
        records: v.records.filter((r) => indexOf(r) !== leaf),
        touchesGap: isGap(leaf),
      };
    case "reorder": {
      // Two readings trade places in the log.
      const others = present.filter((i) => i !== leaf);
      const other = pick(others);
      const records = v.records.map((r) => {
        if (indexOf(r) === leaf) return Object.freeze({ ...r, log_index: other });
        if (indexOf(r) === other) return Object.freeze({ ...r, log_index: leaf });
        return r;
      });
      return {
        kind,
        leaf: Math.min(leaf, other),
        checkpoints,
        records,
        touchesGap: isGap(leaf) || isGap(other),
      };
    }
    case "insert": {
      // A forged reading slipped in before `leaf`: everything after it moves up one.
      const template = byLeaf(leaf);
      const forged = Object.freeze({
        ...template,
        temperature: (template.temperature as number) + 0.5,
        log_index: leaf,
      });
      const records = v.records.map((r) =>
        indexOf(r) >= leaf ? Object.freeze({ ...r, log_index: indexOf(r) + 1 }) : r,
      );
      return {
        kind,
        leaf,
        checkpoints,
        records: [...records, forged],
        touchesGap: gapAtOrAfter(leaf),
      };
    }
    case "replay": {
      // Another container's reading (or another time's) put in place of this one.
      const from = pick(present.filter((i) => i !== leaf));
      const source = byLeaf(from);
      return {
        kind,
        leaf,
        checkpoints,
        records: replaceLeaf(leaf, () => ({ ...source, log_index: leaf })),
        touchesGap: isGap(leaf) || isGap(from),
      };
    }
    case "swap-containers": {
      const at = pick(readings);
      const mine = byLeaf(at);
      const partner = v.records.find(
        (r) =>
          r.schema === undefined &&
          r.container_id !== mine.container_id &&
          Math.abs(indexOf(r) - at) < 8,
      );
      if (!partner) throw new Error(`no other container's reading near leaf ${at}`);
      const records = v.records.map((r) => {
        if (indexOf(r) === at) return Object.freeze({ ...r, container_id: partner.container_id });
        if (indexOf(r) === indexOf(partner))
          return Object.freeze({ ...r, container_id: mine.container_id });
        return r;
      });
      return { kind, leaf: Math.min(at, indexOf(partner)), checkpoints, records };
    }
    case "replace-checkpoint": {
      // A checkpoint swapped for one that says what the forger needs, signed by another key.
      const at = random(checkpoints.length);
      const [, size] = (checkpoints[at] ?? "").split("\n");
      const { privateKey } = generateKeyPairSync("ed25519");
      checkpoints[at] = signCheckpoint(
        { origin: v.origin, size: Number(size), root: EMPTY_ROOT },
        { name: v.origin, privateKey },
      );
      return { kind, leaf: null, checkpoints, records: [...v.records] };
    }
    case "truncate":
      return { kind, leaf, checkpoints, records: v.records.filter((r) => indexOf(r) < leaf) };
  }
}

function found(verdict: LogVerdict, t: Tampered): boolean {
  const { leaf } = t;
  if (leaf === null) return verdict.altered !== null && verdict.rejectedCheckpoints.length > 0;
  const holds = (r: { from: number; to: number } | null) =>
    r !== null && r.from <= leaf && leaf < r.to;
  if (verdict.missing.some(holds) || holds(verdict.altered)) return true;
  const alarm = verdict.missing.length > 0 || verdict.altered !== null;
  return t.touchesGap === true && alarm && leaf >= verdict.verifiedSize;
}

describe("the audit log's verifier against tampering", () => {
  it("finds a clean voyage complete and intact, every checkpoint verified", () => {
    const verdict = verifyLog(voyage.origin, voyage.records, voyage.checkpoints, verifier);
    // Every leaf either in the lake or declared dropped.
    expect(verdict.leaves + droppedCount(verdict.dropped)).toBe(voyage.leaves);
    expect(verdict).toMatchObject({
      verifiedSize: voyage.signedSize,
      missing: [],
      altered: null,
      alteredBecause: [],
      unverifiedTail: null,
      rejectedCheckpoints: [],
    });
    expect(verdict.dropped.map((d) => d.reason)).toContain("evicted");
    expect(verdict.dropped.map((d) => d.reason)).toContain("dropped_by_exception");
    const report = voyageReport(
      voyage.containers[0] ?? "",
      { from: voyage.start, to: voyage.end },
      voyage.records,
      new Map([[voyage.gatewayId, verdict]]),
    );
    // Intact, and incomplete only by what the gateway declared it dropped, each range named.
    expect(report).toMatchObject({ complete: false, intact: true });
    expect(report.missing.length).toBeGreaterThan(0);
    for (const line of report.missing)
      expect(line).toMatch(
        /seq \d+-\d+ of MSKU\d+ dropped on the gateway \((evicted|dropped_by_exception)(, (evicted|dropped_by_exception))?\)$/,
      );
    expect(report.readings).toBeGreaterThan(30 * 6 * 0.8);
    expect(report.readings).toBeLessThan(30 * 6);
    expect(report.temperature.secondsOutOfRange).toBeGreaterThan(0);
    // The excursion the edge raised and cleared, proven like the readings.
    expect(report.alerts.map((a) => [a.type, a.state, a.verified])).toEqual([
      ["temperature_excursion", "raised", true],
      ["temperature_excursion", "cleared", true],
    ]);
  });

  it(`finds every one of ${TAMPERINGS} random tamperings, at the leaves it touched`, () => {
    const rng = xoroshiro128plus(2026);
    const missed: string[] = [];
    const kinds = new Map<string, number>();
    const alertLeaves = new Set(
      voyage.records.filter((r) => r.schema === "reefer.alert.v1").map((r) => r.log_index),
    );
    let onAlerts = 0;
    for (let i = 0; i < TAMPERINGS; i++) {
      const t = tamper(voyage, rng);
      kinds.set(t.kind, (kinds.get(t.kind) ?? 0) + 1);
      if (alertLeaves.has(t.leaf)) onAlerts++;
      const verdict = verifyLog(voyage.origin, t.records, t.checkpoints, verifier);
      if (!found(verdict, t))
        missed.push(
          `${t.kind} at leaf ${t.leaf}: ${JSON.stringify({ ...verdict, missing: verdict.missing.slice(0, 3) })}`,
        );
    }
    console.log(
      `tamperings by kind: ${JSON.stringify(Object.fromEntries(kinds))}; at an alert's leaf: ${onAlerts}`,
    );
    expect(missed.slice(0, 5)).toEqual([]);
    expect(onAlerts).toBeGreaterThan(0);
    expect(kinds.size).toBe(KINDS.length);
  }, 600_000);

  it(`gives no alarm on ${CLEAN_VOYAGES} clean voyages`, () => {
    const alarms: string[] = [];
    for (let seed = 100; seed < 100 + CLEAN_VOYAGES; seed++) {
      const clean = makeVoyage({
        seed,
        days: 2,
        intervalMinutes: 15,
        containers: 3,
        checkpointEvery: 1 + (seed % 17),
        drops: seed % 2 === 0,
        alerts: seed % 3 !== 0,
      });
      const verdict = verifyLog(
        clean.origin,
        clean.records,
        clean.checkpoints,
        parseVerifierKey(clean.vkey),
      );
      if (verdict.missing.length > 0 || verdict.altered !== null || verdict.unverifiedTail !== null)
        alarms.push(`seed ${seed}: ${JSON.stringify(verdict)}`);
    }
    expect(alarms).toEqual([]);
  });
});
