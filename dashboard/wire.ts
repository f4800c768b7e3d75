/**
 * What the dashboard's server sends its page: the JSON of /api/info and of each Server-Sent
 * Event. Types only, shared by the server (agent/dashboard) and the page (this folder).
 */

/** GET /api/info: what this listener serves. */
export type DashboardInfo =
  | { readonly mode: "gateway"; readonly gateway: string; readonly version: string }
  | { readonly mode: "fleet"; readonly version: string };

/**
 * The chart's columns, in order: time (ms since the epoch), temperature, setpoint, O2, CO2,
 * power, door open (0/1) and defrost (0/1). A column is null where the sensor gave nothing.
 */
export const HISTORY_COLUMNS = [
  "t",
  "temperature",
  "setpoint",
  "oxygen",
  "carbonDioxide",
  "kilowatts",
  "door",
  "defrost",
] as const;

export type HistoryColumn = (typeof HISTORY_COLUMNS)[number];

/** A container's recent history as columns, oldest first, each as long as the others. */
export type HistoryColumnsWire = Record<HistoryColumn, (number | null)[]>;

export interface ContainerWire {
  readonly id: string;
  readonly product: string;
  readonly productName: string;
  readonly setpoint: number;
  /** The temperature rule's threshold for this product. */
  readonly limit: number;
}

/** One captured reading, as the chart and the cards take it. */
export interface ReadingWire {
  readonly container: string;
  readonly seq: number;
  /** HISTORY_COLUMNS' values, in order. */
  readonly point: (number | null)[];
  readonly clock: "synced" | "unsynced";
}

export interface AlertWire {
  readonly id: string;
  /** What the alert is about (its type, and the sensor of a sensor fault): a clear matches its raise. */
  readonly key: string;
  readonly container: string;
  readonly type: string;
  readonly severity: string;
  /** raised, cleared, or closed (a temperature window). */
  readonly state: string;
  /** When it happened, ms since the epoch (a window: its end). */
  readonly at: number;
  readonly text: string;
}

export interface DeviceErrorsWire {
  /** The bus and unit, as the driver names them. */
  readonly device: string;
  readonly errors: number;
  readonly requests: number;
}

export interface GatewayStatusWire {
  readonly at: number;
  readonly connection: string;
  readonly broker: string;
  readonly outbox: {
    readonly depth: number;
    readonly bytes: number;
    /** Age of the oldest row waiting, ms; null when empty. */
    readonly oldestAgeMs: number | null;
    /** Rows acknowledged per second over the last ten seconds. */
    readonly drainPerSecond: number;
    /** Seconds until the backlog is gone at that rate, while connected; null otherwise. */
    readonly etaSeconds: number | null;
    readonly evicted: number;
    readonly deadLettered: number;
  };
  readonly clock: "synced" | "unsynced" | "unknown";
  readonly devices: readonly DeviceErrorsWire[];
  readonly readErrors: Readonly<Record<string, number>>;
  readonly uptimeSeconds: number;
}

/** The first event of a gateway's stream: everything the view needs. */
export interface GatewaySnapshotWire {
  readonly gateway: string;
  readonly containers: readonly ContainerWire[];
  readonly history: Readonly<Record<string, HistoryColumnsWire>>;
  /** Alerts not yet cleared, by container. */
  readonly open: Readonly<Record<string, readonly AlertWire[]>>;
  /** The latest alerts of every kind, newest first. */
  readonly recent: readonly AlertWire[];
  readonly status: GatewayStatusWire;
}

/** Tile flags of the fleet view (bits): a container's state is never its colour alone. */
export const TILE = {
  alarm: 1,
  backlog: 2,
  offline: 4,
  clockUntrusted: 8,
  noData: 16,
} as const;

/**
 * The first event of the fleet's stream. With n = containerSuffixes.length, tile k is container
 * `<gateway>-<suffix>` of gateways[k / n], suffix containerSuffixes[k % n].
 */
export interface FleetSnapshotWire {
  readonly gateways: readonly string[];
  readonly containerSuffixes: readonly string[];
  readonly flags: readonly number[];
  /** Last temperature, tenths of °C; null before the first reading. */
  readonly temperatures: readonly (number | null)[];
}

/** A second of changes: parallel arrays of tile index, flags and temperature. */
export interface FleetUpdateWire {
  readonly tiles: readonly number[];
  readonly flags: readonly number[];
  readonly temperatures: readonly (number | null)[];
  readonly summary: {
    readonly connected: number;
    readonly gateways: number;
    readonly capturedPerSecond: number;
    readonly acknowledgedPerSecond: number;
    readonly backlog: number;
  };
}
