import { CUT_POINTS } from "./rig.js";
import type { UpdateCutRecord } from "./guest/update-cuts.js";
import type { CutRecord, Verdict } from "./verdict.js";

/** The table per cut point (RELIABILITY.md), and the invariants' line under it. */
export function cutTable(
  cuts: readonly CutRecord[],
  verdict: Verdict,
  points: readonly string[] = CUT_POINTS,
): string {
  const rows = points.map((point) => {
    const mine = cuts.filter((c) => c.point === point);
    const reached = mine.filter((c) => c.reached);
    const firsts = mine.flatMap((c) => (c.firstPublishMs === null ? [] : [c.firstPublishMs]));
    const at = [...new Set(reached.map((c) => c.cutAt))].slice(0, 3).join("; ");
    return `| ${point} | ${mine.length} | ${reached.length} | ${at || "-"} | ${firsts.length > 0 ? (Math.max(...firsts) / 1000).toFixed(1) + " s" : "-"} |`;
  });
  return [
    "| cut point | cuts | reached | froze at (examples) | slowest first publish |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
    `${verdict.cuts} cuts: ${verdict.captured} readings reported captured, ${verdict.lost.length} lost, ` +
      `${verdict.conflicts.length} seqs carrying two readings, ${verdict.delivered} delivered ` +
      `(${verdict.duplicates} duplicates), ${verdict.recoveries} outboxes moved aside, ` +
      `${verdict.failedStarts.length} failed starts, slowest first publish after a restart ` +
      `${(verdict.slowestFirstPublishMs / 1000).toFixed(1)} s`,
  ].join("\n");
}

/** The table of updates with power cuts in them (RELIABILITY.md). */
export function updateCutTable(updates: readonly UpdateCutRecord[]): string {
  const rows = updates.map((u) => {
    const cuts = u.cuts
      .map(
        (c) =>
          `${c.phase}${c.phase === c.aimed ? "" : ` (aimed at ${c.aimed})`} +${(c.afterMs / 1000).toFixed(1)} s${c.lastStep ? `: "${c.lastStep.slice(0, 60)}"` : ""}`,
      )
      .join("; ");
    return `| ${u.jobId} | ${u.from} → ${u.to} | ${cuts} | ${u.status} | ${u.running} | ${u.recoverySeconds} s | ${u.reason} |`;
  });
  return [
    "| job | update | power cut in (installer's last line) | job | running after | last boot | reason |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}
