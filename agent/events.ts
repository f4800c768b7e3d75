import type { EventEmitter } from "node:events";
import type { TopicKind } from "./publisher/topics.js";
import type { AlertRecord } from "./rules/alerts.js";
import type { ReeferReading } from "./record.js";

export type ConnectionState = "connecting" | "connected" | "disconnected" | "stopped";

/** What one agent tells its observers (the live view, a fleet dashboard, tests). */
export interface AgentEventMap {
  captured: [readings: readonly ReeferReading[]];
  published: [readings: number, kind: TopicKind];
  connection: [state: ConnectionState, detail?: string];
  deadLettered: [rows: number, reason: string];
  alert: [alerts: readonly AlertRecord[]];
}

export type AgentEvents = EventEmitter<AgentEventMap>;
