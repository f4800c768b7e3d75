import { describe, expect, it } from "vitest";

import { chartPerSecond, formatReport, seriesPerSecond, type FleetReport } from "./report.js";

describe("the fleet report's CONNECTs-a-second chart", () => {
  it("fills the seconds none was counted in, from the fault to the last one back", () => {
    const counted = new Map([
      [100, 5],
      [102, 9],
      [99, 40],
    ]);
    expect(seriesPerSecond(counted, 100, 103)).toEqual([5, 0, 9, 0]);
    expect(seriesPerSecond(counted, 5, 4)).toEqual([]);
  });

  it("draws a column a second against the peak, a blank for none", () => {
    expect(chartPerSecond([0, 1, 4, 8, 2, 0])).toEqual({
      line: " ▁▄█▂ ",
      secondsPerColumn: 1,
      peak: 8,
    });
  });

  it("gives a long series a column per group of seconds, each its busiest", () => {
    const series = Array.from({ length: 300 }, (_, i) => (i === 150 ? 500 : i < 100 ? 100 : 0));
    const chart = chartPerSecond(series, 60);
    expect(chart.secondsPerColumn).toBe(5);
    expect(chart.line).toHaveLength(60);
    expect(chart.peak).toBe(500);
    expect(chart.line[30]).toBe("█");
    expect(chart.line.slice(0, 20)).toBe("▂".repeat(20));
    expect(chart.line.slice(31).trim()).toBe("");
  });

  it("prints it under the chaos table, for each event with a series", () => {
    const report = {
      gateways: 2,
      containers: 2,
      shard: "1/1",
      rampSeconds: 1,
      runSeconds: 10,
      captured: 4,
      acknowledged: 4,
      received: 4,
      lost: 0,
      duplicates: 0,
      evicted: 0,
      deadLettered: 0,
      backlogLeft: 0,
      drainSeconds: 0.1,
      alerts: 0,
      reconnects: 2,
      peakRssBytes: 2 ** 20,
      heapAtPeakRssBytes: 2 ** 19,
      workerCpuSeconds: 1,
      steadyCpu: null,
      observed: true,
      perGateway: [],
      chaos: [
        {
          kind: "broker-restart",
          atSeconds: 5,
          faultSeconds: 5,
          backAfterSeconds: 3,
          peakConnectAttemptsPerSecond: 2,
          peakBrokerConnectsPerSecond: 2,
          impliedPeakPerSecond: 2,
          connectsPerSecond: [0, 2, 1, 0],
        },
      ],
    } satisfies FleetReport;
    expect(formatReport(report)).toContain(
      "CONNECTs a second after the broker-restart, from the fault until all were back (a column a second; top: 2/s):\n  | █▄ |",
    );
  });
});
