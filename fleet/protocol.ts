import type { FleetConfig } from "../config/fleet-schema.js";
import type { LiveEvent } from "../agent/dashboard/dashboard-routes.js";
import type { LinkFault } from "./link-proxy.js";

/** The link groups chaos acts on: gateways behind the partition proxy or the slow one. */
export type LinkGroup = "partition" | "slow";

/** What the coordinator tells a worker process (over the IPC channel of `fork`). */
export type ToWorker =
  | {
      readonly type: "init";
      readonly fleet: FleetConfig;
      /** Gateway indices [start, end) this worker runs. */
      readonly range: readonly [number, number];
      /** This worker's share of the fleet's connect rate. */
      readonly connectsPerSecond: number;
      readonly brokerUrl: string;
      readonly ca: string | undefined;
      /** The dashboard's tiles: this worker's first tile, or null when no dashboard runs. */
      readonly firstTile: number | null;
    }
  /** A page watches a gateway: stream its feed, tagged with `subscription`. */
  | { readonly type: "watch"; readonly gateway: string; readonly subscription: number }
  | { readonly type: "unwatch"; readonly subscription: number }
  | { readonly type: "link"; readonly group: LinkGroup; readonly fault: LinkFault }
  /** Stop sampling; report each gateway's drain; keep publishing. */
  | { readonly type: "drain" }
  /** Stop every agent gracefully, send the report, exit. */
  | { readonly type: "stop" };

/** Totals over a worker's gateways, sent every second. */
export interface WorkerStats {
  readonly started: number;
  readonly connected: number;
  readonly captured: number;
  readonly acknowledged: number;
  readonly backlog: number;
  readonly alerts: number;
  readonly reconnects: number;
  /** Gateways whose outbox is empty after the drain began. */
  readonly drained: number;
  /** CONNECT attempts since the last stats, by Unix second. */
  readonly connectAttempts: Readonly<Record<string, number>>;
  readonly rssBytes: number;
  /** V8's heap as committed (JavaScript objects, code and free space V8 keeps): its part of RSS. */
  readonly heapBytes: number;
  /** CPU time (user and system) the worker used since it started. */
  readonly cpuSeconds: number;
  /** Of which in the kernel (system): the outboxes' fdatasyncs, sockets. */
  readonly cpuSystemSeconds: number;
  /** A release's installs (fleet/fleet-installer.ts): in progress, made, kept, rolled back. */
  readonly installing: number;
  readonly installed: number;
  readonly kept: number;
  readonly rolledBack: number;
  /** The longest time from an install to its rollback on this worker, ms. */
  readonly slowestRollbackMs: number;
}

/** One container's captured seqs in this run: first..last, `count` of them. */
export interface CapturedRange {
  readonly id: string;
  readonly first: number;
  readonly last: number;
  readonly count: number;
}

export interface GatewayResult {
  readonly id: string;
  readonly captured: number;
  readonly acknowledged: number;
  readonly backlog: number;
  readonly evicted: number;
  readonly deadLettered: number;
  readonly connects: number;
  /** Milliseconds from the drain's start until the outbox was empty; null if it never was. */
  readonly drainMs: number | null;
  readonly containers: readonly CapturedRange[];
}

export type FromWorker =
  | { readonly type: "ready"; readonly gateways: number }
  | { readonly type: "stats"; readonly stats: WorkerStats }
  | { readonly type: "report"; readonly gateways: readonly GatewayResult[] }
  /** The dashboard's tiles that changed in the last second (fleet-wide tile indices). */
  | {
      readonly type: "tiles";
      readonly tiles: readonly number[];
      readonly flags: readonly number[];
      readonly temperatures: readonly (number | null)[];
    }
  /** One event of a watched gateway's feed; `ended` when the gateway is not (or no longer) here. */
  | { readonly type: "feed"; readonly subscription: number; readonly event: LiveEvent | "ended" }
  | { readonly type: "failed"; readonly message: string };
