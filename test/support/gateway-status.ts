import { EventEmitter } from "node:events";
import type { AgentEventMap, AgentEvents } from "../../core/events.js";
import {
  EMPTY_OUTBOX_STATS,
  NO_STORAGE_FAILURE,
  type AgentStatus,
  type ContainerInfo,
  type DeviceWearRate,
  type GatewayGlance,
  type GatewayStatus,
  type Health,
} from "../../core/gateway-status.js";
import { Metrics } from "../../core/metrics.js";

/**
 * A gateway as its features see it (the GatewayStatus port), with every figure set by the test:
 * for the live feed, the health shadow's state and the tiles, without an agent, an outbox or a
 * broker. Events are real: emit on `events` as the agent would.
 */
export class StatusFixture implements GatewayStatus {
  readonly events: AgentEvents = new EventEmitter<AgentEventMap>();
  readonly metrics = new Metrics();
  readonly bootId = "00000000-0000-4000-8000-000000000001";
  readonly version = "0.0.0-test";
  readonly brokerAddress = "mqtts://broker.test:8883";
  glanceNow: GatewayGlance = {
    connected: true,
    backlog: 0,
    oldestCapturedAt: null,
    uptimeMs: 0,
    unreachableDevices: [],
    storage: NO_STORAGE_FAILURE,
  };
  statusNow: AgentStatus = {
    connected: true,
    outbox: EMPTY_OUTBOX_STATS,
    inflight: 0,
    metrics: {},
  };
  wearNow: DeviceWearRate | null = null;

  constructor(
    readonly gatewayId: string,
    private readonly containerList: ContainerInfo[],
  ) {}

  containers(): ContainerInfo[] {
    return this.containerList;
  }
  glance(): GatewayGlance {
    return this.glanceNow;
  }
  status(): AgentStatus {
    return this.statusNow;
  }
  wear(): DeviceWearRate | null {
    return this.wearNow;
  }
  health(): Health {
    return {
      status: "ok",
      reasons: [],
      mode: this.glanceNow.connected ? "delivering" : "buffering",
      backlog: this.glanceNow.backlog,
      unreachableDevices: this.glanceNow.unreachableDevices,
    };
  }
  metricsText(): string {
    return "";
  }
}

/** A container of the fixture: product P01 at 4 °C, limit 8 °C, read every second. */
export function containerInfo(id: string, intervalMs = 1000): ContainerInfo {
  return { id, product: "P01", productName: "Carrots", setpoint: 4, limit: 8, intervalMs };
}
