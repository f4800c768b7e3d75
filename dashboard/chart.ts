import uPlot from "uplot";
import type { AlertWire, HistoryColumnsWire } from "./wire.js";
import { PALETTE } from "./palette.js";

/** What one container's charts show: its last hour, its setpoint and limit, its alerts. */
export interface ChartData {
  readonly columns: HistoryColumnsWire;
  readonly limit: number;
  readonly alerts: readonly AlertWire[];
}

type Shading = {
  readonly column: "door" | "defrost";
  readonly fill: string;
  readonly label: string;
};

const SHADINGS: readonly Shading[] = [
  { column: "door", fill: "rgba(230, 159, 0, 0.18)", label: "door open" },
  { column: "defrost", fill: "rgba(86, 180, 233, 0.18)", label: "defrost" },
];

/**
 * A container's last hour in three charts that share a time axis and cursor (uPlot: small,
 * fast on a Pi's browser, no dependencies): temperature against setpoint and limit, the
 * atmosphere (O2, CO2), and power. Door-open and defrost periods are shaded, alerts marked on
 * the time axis.
 */
export class ContainerCharts {
  private readonly charts: uPlot[] = [];
  private data: ChartData | null = null;
  private readonly resize: ResizeObserver;

  constructor(private readonly host: HTMLElement) {
    const sync = uPlot.sync("container");
    const common = (title: string, height: number, series: uPlot.Series[], unit: string) =>
      ({
        title,
        width: this.width(),
        height,
        cursor: { sync: { key: sync.key } },
        scales: { x: { time: true } },
        axes: [{}, { label: unit, size: 56 }],
        series: [{ label: "time" }, ...series],
        hooks: { draw: [(u: uPlot) => this.decorate(u)] },
      }) satisfies uPlot.Options;
    const line = (label: string, stroke: string, dash?: number[], digits = 1): uPlot.Series => ({
      label,
      stroke,
      width: 2,
      dash,
      spanGaps: false,
      value: (_u, v: number | null) => (v === null ? "—" : v.toFixed(digits)),
    });
    const empty: uPlot.AlignedData = [[], [], [], []];
    this.charts.push(
      new uPlot(
        common(
          "Temperature",
          220,
          [
            line("return air °C", PALETTE.blue),
            line("setpoint °C", PALETTE.green, [8, 4]),
            line("limit °C", PALETTE.vermillion, [2, 3]),
          ],
          "°C",
        ),
        empty,
        host,
      ),
      new uPlot(
        common(
          "Atmosphere",
          160,
          [line("O₂ %", PALETTE.skyBlue), line("CO₂ %", PALETTE.orange, [6, 3])],
          "%",
        ),
        [[], [], []],
        host,
      ),
      new uPlot(
        common("Power", 140, [line("kW", PALETTE.purple, undefined, 2)], "kW"),
        [[], []],
        host,
      ),
    );
    this.resize = new ResizeObserver(() => {
      for (const chart of this.charts) chart.setSize({ width: this.width(), height: chart.height });
    });
    this.resize.observe(host);
  }

  update(data: ChartData): void {
    this.data = data;
    const c = data.columns;
    const x = c.t.map((t) => (t === null ? 0 : t / 1000));
    const limit = c.t.map(() => data.limit);
    const [temperature, atmosphere, power] = this.charts;
    temperature?.setData([x, c.temperature, c.setpoint, limit] as uPlot.AlignedData);
    atmosphere?.setData([x, c.oxygen, c.carbonDioxide] as uPlot.AlignedData);
    power?.setData([x, c.kilowatts] as uPlot.AlignedData);
  }

  destroy(): void {
    this.resize.disconnect();
    for (const chart of this.charts) chart.destroy();
    this.charts.length = 0;
  }

  private width(): number {
    return Math.max(280, Math.floor(this.host.clientWidth || 600));
  }

  /** Shades door and defrost periods, and marks each alert with a line and a label. */
  private decorate(u: uPlot): void {
    const data = this.data;
    if (!data) return;
    const { ctx, bbox } = u;
    const times = data.columns.t;
    ctx.save();
    for (const shading of SHADINGS) {
      const column = data.columns[shading.column];
      let start: number | null = null;
      for (let i = 0; i <= times.length; i++) {
        const on = i < times.length && column[i] === 1;
        const t = times[i];
        if (on && start === null && t !== null && t !== undefined) start = t;
        if (!on && start !== null) {
          const end = times[i] ?? times[i - 1] ?? start;
          const x0 = u.valToPos(start / 1000, "x", true);
          const x1 = Math.max(x0 + 2, u.valToPos(end / 1000, "x", true));
          ctx.fillStyle = shading.fill;
          ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
          start = null;
        }
      }
    }
    const ratio = window.devicePixelRatio || 1;
    ctx.font = `${11 * ratio}px system-ui, sans-serif`;
    for (const alert of data.alerts) {
      const x = u.valToPos(alert.at / 1000, "x", true);
      if (x < bbox.left || x > bbox.left + bbox.width) continue;
      const colour = alert.state === "cleared" ? PALETTE.green : PALETTE.vermillion;
      ctx.strokeStyle = colour;
      ctx.lineWidth = ratio;
      ctx.setLineDash([4 * ratio, 3 * ratio]);
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
      // A marker whose shape tells the state: a triangle raised, a circle cleared.
      ctx.setLineDash([]);
      ctx.fillStyle = colour;
      ctx.beginPath();
      if (alert.state === "cleared") ctx.arc(x, bbox.top + 6 * ratio, 4 * ratio, 0, Math.PI * 2);
      else {
        ctx.moveTo(x, bbox.top);
        ctx.lineTo(x - 5 * ratio, bbox.top + 9 * ratio);
        ctx.lineTo(x + 5 * ratio, bbox.top + 9 * ratio);
        ctx.closePath();
      }
      ctx.fill();
    }
    ctx.restore();
  }
}
