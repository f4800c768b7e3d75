import type { FleetBoard } from "./fleet-board.js";
import type { SummedStat } from "./worker-pool.js";

/**
 * What a fleet run tells its operator: phase events as JSON lines, and each second the live
 * figures, as a progress bar on a terminal or a JSON line otherwise (a log, a CI job), and to
 * the dashboard's board when one is served.
 */
export class FleetProgress {
  board: FleetBoard | null = null;

  constructor(
    private readonly output: (text: string) => void,
    private readonly tty: boolean,
    private readonly total: number,
  ) {}

  /** One phase event: `{ time, ...fields }` on a line of its own. */
  event(fields: Record<string, unknown>): void {
    const line = JSON.stringify({ time: new Date().toISOString(), ...fields });
    this.output(this.tty ? `\n${line}\n` : `${line}\n`);
  }

  /** The live figures, from the workers' summed stats. */
  live(sum: (field: SummedStat) => number): void {
    const connected = sum("connected");
    this.board?.tick({
      connected,
      captured: sum("captured"),
      acknowledged: sum("acknowledged"),
      backlog: sum("backlog"),
    });
    const started = sum("started");
    if (this.tty) {
      const width = 30;
      const filled = Math.round((connected / Math.max(1, this.total)) * width);
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      this.output(
        `\r[${bar}] ${connected}/${this.total} connected, ${started} started | ` +
          `captured ${sum("captured")} acked ${sum("acknowledged")} ` +
          `backlog ${sum("backlog")} alerts ${sum("alerts")} reconnects ${sum("reconnects")}   `,
      );
    } else {
      this.event({
        phase: "live",
        started,
        connected,
        captured: sum("captured"),
        acknowledged: sum("acknowledged"),
        backlog: sum("backlog"),
        alerts: sum("alerts"),
        reconnects: sum("reconnects"),
      });
    }
  }
}
