export interface BenchResult {
  readonly name: string;
  readonly unit: string;
  readonly value: number;
  readonly baselineName: string;
  readonly baseline: number;
  readonly target: string;
  /** Minimum value/baseline (throughput) or, with `lowerIsBetter`, the maximum. */
  readonly targetRatio?: number;
  /** An absolute target instead: the value at most (with `lowerIsBetter`) or at least this. */
  readonly targetValue?: number;
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
    const met = meets(r, ratio);
    lines.push(
      `| ${r.name} | ${fmt(r.value)} ${r.unit} | ${r.baselineName}: ${fmt(r.baseline)} ${r.unit} | ${ratio.toFixed(2)}× | ${r.target} | ${met} |`,
    );
  }
  const notes = results.filter((r) => r.note).map((r) => `- ${r.name}: ${r.note ?? ""}`);
  return [...lines, ...(notes.length ? ["", ...notes] : [])].join("\n");
}

function meets(r: BenchResult, ratio: number): string {
  const within = (value: number, target: number) =>
    r.lowerIsBetter ? value <= target : value >= target;
  if (r.targetValue !== undefined) return within(r.value, r.targetValue) ? "yes" : "NO";
  if (r.targetRatio !== undefined) return within(ratio, r.targetRatio) ? "yes" : "NO";
  return "—";
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1);
}
