export interface BenchResult {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly baselineName: string;
  readonly baseline: number;
  readonly target: string;
  /** Minimum value/baseline (throughput) or, with `lowerIsBetter`, the maximum. */
  readonly targetRatio?: number;
  readonly lowerIsBetter?: boolean;
  readonly note?: string;
}

export function formatResults(results: readonly BenchResult[]): string {
  const lines = [
    "| benchmark | reefer-edge | baseline | ratio | target | met |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of results) {
    const ratio = r.value / r.baseline;
    const met =
      r.targetRatio === undefined
        ? "—"
        : (r.lowerIsBetter ? ratio <= r.targetRatio : ratio >= r.targetRatio)
          ? "yes"
          : "NO";
    lines.push(
      `| ${r.name} | ${fmt(r.value)} ${r.unit} | ${r.baselineName}: ${fmt(r.baseline)} ${r.unit} | ${ratio.toFixed(2)}× | ${r.target} | ${met} |`,
    );
  }
  const notes = results.filter((r) => r.note).map((r) => `- ${r.name}: ${r.note ?? ""}`);
  return [...lines, ...(notes.length ? ["", ...notes] : [])].join("\n");
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1);
}
