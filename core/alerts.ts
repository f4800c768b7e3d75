/**
 * Alert records (schema reefer.alert.v1), published on dt/reefer/{gateway}/{container}/alert.
 * Two kinds: the windowed rule's report, which mirrors the cloud's SQL reading for reading, and
 * the stateful alerts (raise, then clear) that an operator acts on.
 */
export const ALERT_SCHEMA = "reefer.alert.v1";

export type AlertType =
  | "temperature_window"
  | "temperature_excursion"
  | "power_off"
  | "fans_stopped"
  | "oxygen_low"
  | "carbon_dioxide_high"
  | "sensor_fault"
  | "device_unreachable"
  | "storage_failing";

export type Severity = "critical" | "warning" | "info";

interface AlertBase {
  schema: typeof ALERT_SCHEMA;
  /** Stable across re-sends, for consumers to drop duplicates. */
  alert_id: string;
  alert_type: AlertType;
  severity: Severity;
  container_id: string;
  gateway_id: string;
  product_id: string;
  /** First and last seq of the readings the alert covers. */
  first_seq: number;
  last_seq: number;
}

/** The seed's rule at the edge: a window in which readings were over the threshold. */
export interface WindowAlert extends AlertBase {
  alert_type: "temperature_window";
  state: "closed";
  window_start: string;
  window_end: string;
  readings_over: number;
  max_temperature: number;
  threshold: number;
}

/** A condition that held long enough to raise, and later its clearing. */
export interface StateAlert extends AlertBase {
  alert_type: Exclude<AlertType, "temperature_window" | "device_unreachable" | "storage_failing">;
  state: "raised" | "cleared";
  /** measurement_time of the reading that raised or cleared it. */
  alert_time: string;
  /** measurement_time of the first reading of the condition. */
  since: string;
  /** The reading's value that decided, and the limit it was judged against. */
  value: number | boolean | null;
  limit: number | null;
  /** The field a sensor_fault is about. */
  field?: string;
}

/**
 * The container's device(s) stopped answering: raised after a while without a good read, cleared
 * by the first good one. first_seq and last_seq are the last reading captured before the silence.
 */
export interface DeviceAlert extends AlertBase {
  alert_type: "device_unreachable";
  state: "raised" | "cleared";
  alert_time: string;
  /** When the last good read was (or the agent started, if none since). */
  since: string;
  /** What could not be read, as the driver names it ("/dev/ttyUSB0 unit 3"); may be empty. */
  devices: string[];
  /** How the last failed read failed: timeout, crc, framing, exception, port_gone or error. */
  error_class: string;
}

/**
 * The outbox's storage failed (an I/O error, a file system gone read-only, the card removed):
 * readings are kept in memory and the live lane goes on, but nothing new survives a power cut
 * until it is cleared. Raised for every container of the gateway (each one's record is at risk)
 * at the first failure, cleared once the storage has worked again for a while. first_seq and
 * last_seq are the container's last seq when it was raised or cleared.
 */
export interface StorageAlert extends AlertBase {
  alert_type: "storage_failing";
  state: "raised" | "cleared";
  alert_time: string;
  /** When the storage first failed. */
  since: string;
  /** What the storage answered, e.g. "SQLITE_IOERR_WRITE: disk I/O error". */
  reason: string;
  /** Readings of the gateway that could not be stored on the disk since it failed. */
  readings_not_stored: number;
}

export type AlertRecord = WindowAlert | StateAlert | DeviceAlert | StorageAlert;

export const SEVERITY: Readonly<Record<AlertType, Severity>> = {
  temperature_window: "warning",
  temperature_excursion: "critical",
  power_off: "critical",
  fans_stopped: "warning",
  oxygen_low: "warning",
  carbon_dioxide_high: "warning",
  sensor_fault: "warning",
  device_unreachable: "critical",
  storage_failing: "critical",
};
