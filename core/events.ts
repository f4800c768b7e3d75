import type { EventEmitter } from "node:events";
import type { AlertRecord } from "./alerts.js";
import type { ReeferReading } from "./record.js";

/**
 * What a published message is: a live reading, a batch of backlog, or an alert; the topic kinds
 * of the wire contract (docs/wire-contract.md), which AWS IoT rules select on.
 */
export type TopicKind = "telemetry" | "backfill" | "alert";

export type ConnectionState = "connecting" | "connected" | "disconnected" | "stopped";

/** What one agent tells its observers (the live view, a fleet dashboard, tests). */
export interface AgentEventMap {
  /**
   * A tick's readings were committed. `durable`: on the disk, surviving a power cut (per the
   * durability setting); false while the storage fails and they are held in memory.
   */
  captured: [readings: readonly ReeferReading[], durable: boolean];
  /**
   * Readings captured earlier but held in memory (`buffer.writeBehindSeconds`, or while the
   * storage failed) reached the disk and are durable now. Those the broker acknowledged first
   * never do, and are never told here.
   */
  stored: [readings: readonly ReeferReading[]];
  published: [readings: number, kind: TopicKind];
  connection: [state: ConnectionState, detail?: string];
  deadLettered: [rows: number, reason: string];
  alert: [alerts: readonly AlertRecord[]];
}

export type AgentEvents = EventEmitter<AgentEventMap>;
