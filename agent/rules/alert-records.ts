import { ALERT_SCHEMA, SEVERITY, type StateAlert, type WindowAlert } from "../../core/alerts.js";
import type { Transition } from "./condition.js";
import type { WindowTally } from "./windows.js";

/** Who an alert is about. */
export interface AlertSubject {
  readonly gatewayId: string;
  readonly containerId: string;
  readonly productId: string;
}

/** The record of a stateful alert's transition, judged on reading `seq` at `alertTime`. */
export function stateAlert(
  subject: AlertSubject,
  type: StateAlert["alert_type"],
  transition: Transition,
  reading: { readonly seq: number; readonly measurement_time: string },
  value: number | boolean | null,
  limit: number | null,
  field?: string,
): StateAlert {
  return {
    schema: ALERT_SCHEMA,
    alert_id: `${subject.containerId}:${type}${field === undefined ? "" : `:${field}`}:${transition.firstSeq}:${transition.kind}`,
    alert_type: type,
    severity: SEVERITY[type],
    state: transition.kind,
    container_id: subject.containerId,
    gateway_id: subject.gatewayId,
    product_id: subject.productId,
    first_seq: transition.firstSeq,
    last_seq: reading.seq,
    alert_time: reading.measurement_time,
    since: new Date(transition.since).toISOString(),
    value,
    limit,
    ...(field !== undefined && { field }),
  };
}

/** The windowed rule's record of one closed window with readings over the threshold. */
export function windowAlert(subject: AlertSubject, tally: WindowTally): WindowAlert {
  return {
    schema: ALERT_SCHEMA,
    alert_id: `${subject.containerId}:temperature_window:${tally.start}`,
    alert_type: "temperature_window",
    severity: SEVERITY.temperature_window,
    state: "closed",
    container_id: subject.containerId,
    gateway_id: subject.gatewayId,
    product_id: subject.productId,
    first_seq: tally.firstSeq,
    last_seq: tally.lastSeq,
    window_start: new Date(tally.start).toISOString(),
    window_end: new Date(tally.end).toISOString(),
    readings_over: tally.readingsOver,
    max_temperature: tally.maxTemperature,
    threshold: tally.threshold,
  };
}
