import type { AlertRecord } from "../../core/alerts.js";

/**
 * The alerts raised and not yet cleared, by container: what a live view shows as a container's
 * state. A sensor fault is kept per sensor; a temperature window is an event, never open.
 */
export class OpenAlerts {
  private readonly open = new Map<string, Map<string, AlertRecord>>();

  apply(alert: AlertRecord): void {
    if (alert.state === "closed") return;
    const key = alertKey(alert);
    let byKey = this.open.get(alert.container_id);
    if (!byKey) {
      byKey = new Map();
      this.open.set(alert.container_id, byKey);
    }
    if (alert.state === "raised") byKey.set(key, alert);
    else byKey.delete(key);
  }

  of(container: string): AlertRecord[] {
    return [...(this.open.get(container)?.values() ?? [])];
  }

  count(container: string): number {
    return this.open.get(container)?.size ?? 0;
  }
}

/** What an alert is about: its type, and the sensor of a sensor fault. */
export function alertKey(alert: AlertRecord): string {
  return alert.alert_type === "sensor_fault"
    ? `${alert.alert_type}:${alert.field ?? ""}`
    : alert.alert_type;
}

/** One line an operator reads: when, which container, what, and the value against its limit. */
export function describeAlert(alert: AlertRecord): string {
  if (alert.alert_type === "temperature_window") {
    return `${alert.window_start.slice(11, 19)} ${alert.container_id} ${alert.readings_over} readings over ${alert.threshold} °C in the window, max ${alert.max_temperature} °C`;
  }
  if (alert.alert_type === "device_unreachable") {
    return `${alert.alert_time.slice(11, 19)} ${alert.container_id} device_unreachable ${alert.state} (${alert.error_class}${alert.devices.length > 0 ? `: ${alert.devices.join(", ")}` : ""})`;
  }
  if (alert.alert_type === "storage_failing") {
    return `${alert.alert_time.slice(11, 19)} ${alert.container_id} storage_failing ${alert.state} (${alert.reason})`;
  }
  const value = alert.value === null ? "null" : String(alert.value);
  return `${alert.alert_time.slice(11, 19)} ${alert.container_id} ${alert.alert_type} ${alert.state} (${alert.field ?? "value"} ${value}${alert.limit === null ? "" : `, limit ${alert.limit}`})`;
}

/** When the alert happened, ms since the epoch: a window's end, else the deciding reading's time. */
export function alertTime(alert: AlertRecord): number {
  return Date.parse(
    alert.alert_type === "temperature_window" ? alert.window_end : alert.alert_time,
  );
}
