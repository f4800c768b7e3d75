/** How one of the agent's internal metrics is exposed in the Prometheus text format. */
export interface MetricSpec {
  /** The exposed name: `reefer_edge_` + base units + `_total` for counters. */
  readonly name: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly help: string;
  /** Multiplies the internal value into the exposed base unit (ms -> s: 0.001). */
  readonly scale?: number;
}

const counter = (name: string, help: string): MetricSpec => ({
  name: `reefer_edge_${name}_total`,
  type: "counter",
  help,
});

/**
 * Every metric the agent, its drivers and its publisher keep (Metrics), by internal name. A name
 * missing here is not exposed; metric-catalogue.test.ts fails when the code counts one that is
 * not listed. The outbox's durable counts (evictions, dead letters, disk-full events) are
 * exposed from the outbox itself, so they survive restarts: their in-process twins are not.
 */
export const METRIC_CATALOGUE: Readonly<Record<string, MetricSpec | null>> = {
  readings_captured: counter("readings_captured", "Readings committed to the outbox."),
  read_errors: counter("read_errors", "Reads of a container that failed, by container."),
  read_timeouts: counter("read_timeouts", "Reads of a container that timed out, by container."),
  read_overruns: counter(
    "read_overruns",
    "Ticks skipped for a container whose previous read was still running.",
  ),
  ticks_skipped: counter("ticks_skipped", "Sampling ticks skipped after the process stalled."),
  sensor_faults: counter(
    "sensor_faults",
    "Sensor values refused (out of range, a fault value), by container and field.",
  ),
  capture_errors: counter("capture_errors", "Ticks whose capture failed with an error."),
  audit_checkpoints: counter(
    "audit_checkpoints",
    "Checkpoints of the cold-chain audit log signed (while the log grows, and at each start and stop).",
  ),
  audit_messages_sent: counter(
    "audit_messages_sent",
    "Checkpoints and gap records of the audit log the broker acknowledged.",
  ),
  outbox_sync_errors: counter(
    "outbox_sync_errors",
    "Background syncs of the outbox's WAL that the disk failed; their readings were published without a durable copy.",
  ),
  readings_dropped: counter(
    "readings_dropped",
    "Readings read but not captured (the disk full even after evicting), by reason.",
  ),
  alerts_dropped: counter("alerts_dropped", "Alerts not captured, by reason."),
  readings_not_stored: counter(
    "readings_not_stored",
    "Readings held in memory because the outbox's storage failed (published from memory; not durable).",
  ),
  storage_failures: counter(
    "storage_failures",
    "Failures of the outbox's storage (an I/O error, a read-only or missing file system), by operation.",
  ),
  memory_lane_rows: {
    name: "reefer_edge_memory_lane_rows",
    type: "gauge",
    help: "Rows held in memory while the outbox's storage fails.",
  },
  alerts: counter("alerts", "Alert records captured, by type and state."),
  dropped_by_exception: counter(
    "dropped_by_exception",
    "Held readings report by exception dropped when their window closed, by container.",
  ),
  outbox_recoveries: counter(
    "outbox_recoveries",
    "Corrupt outbox databases moved aside at start and replaced.",
  ),
  clock_corrected: counter(
    "clock_corrected_readings",
    "Buffered readings whose time was corrected when the clock became trusted.",
  ),
  published: counter(
    "published_readings",
    "Readings and alerts acknowledged by the broker, by kind.",
  ),
  bytes_sent: counter("sent_bytes", "Payload bytes handed to the broker connection."),
  shadow_applied: counter(
    "shadow_applied",
    "Desired states of the config shadow applied (without a restart).",
  ),
  shadow_refused: counter(
    "shadow_refused",
    "Config shadow documents refused and reported, by reason (invalid, json, size).",
  ),
  shadow_stale_deltas: counter(
    "shadow_stale_deltas",
    "Config shadow deltas older than the version applied, ignored.",
  ),
  jobs_messages_refused: counter(
    "jobs_messages_refused",
    "Messages on the gateway's AWS IoT Jobs topics that are not the Jobs API's (not JSON, a bad job id): ignored.",
  ),
  update_jobs: counter(
    "update_jobs",
    "Update jobs ended by this gateway, by status (succeeded, failed).",
  ),
  update_job_retries: counter(
    "update_job_retries",
    "Attempts at an update job that threw (a hand-off file unreadable, the disk), taken up again a minute later.",
  ),
  update_jobs_refused: counter(
    "update_jobs_refused",
    "Update jobs refused before any download: a malformed document or a signature not by the release key.",
  ),
  update_download_retries: counter(
    "update_download_retries",
    "Times an update's package download resumed (a drop, an expired URL, a server error).",
  ),
  update_download_bytes: counter(
    "update_download_bytes",
    "Bytes of update packages received, every attempt counted.",
  ),
  publish_errors: counter("publish_errors", "Publishes that failed and will be retried."),
  rate_limited: counter(
    "rate_limited",
    "Times the publisher waited for the connection's rate limits.",
  ),
  connect_attempts: counter("connect_attempts", "Broker connection attempts."),
  connects: counter("connects", "Broker connections established."),
  disconnects: counter("disconnects", "Broker connections lost (each followed by a reconnect)."),
  connection_errors: counter("connection_errors", "Broker connection errors, by kind."),
  modbus_requests: counter("modbus_requests", "Modbus requests sent, by bus and unit."),
  modbus_errors: counter(
    "modbus_errors",
    "Modbus requests that failed, by bus, unit and class (timeout, crc, framing, exception, port_gone).",
  ),
  modbus_exceptions: counter(
    "modbus_exceptions",
    "Modbus exception replies, by bus, unit and code.",
  ),
  modbus_skipped: counter(
    "modbus_skipped",
    "Modbus polls not sent while a unit's circuit is open.",
  ),
  modbus_circuit_opens: counter("modbus_circuit_opens", "Times a unit's circuit breaker opened."),
  modbus_port_opens: counter("modbus_port_opens", "Times a Modbus line was opened, by bus."),
  modbus_port_lost: counter(
    "modbus_port_lost",
    "Times a Modbus line was lost (unplugged), by bus.",
  ),
  modbus_circuit_open: {
    name: "reefer_edge_modbus_circuit_open",
    type: "gauge",
    help: "1 while a unit's circuit breaker is open (the unit is only probed), by bus and unit.",
  },
  reconnect_delay_ms: {
    name: "reefer_edge_reconnect_delay_seconds",
    type: "gauge",
    help: "The delay before the next broker connection attempt.",
    scale: 0.001,
  },
  drain_rate_per_second: {
    name: "reefer_edge_drain_rate_readings_per_second",
    type: "gauge",
    help: "Readings acknowledged per second over the last progress period.",
  },
  publish_ack_seconds: {
    name: "reefer_edge_publish_ack_seconds",
    type: "histogram",
    help: "Time from handing a message to the connection to its PUBACK.",
  },
  wal_sync_seconds: {
    name: "reefer_edge_wal_sync_seconds",
    type: "histogram",
    help: "Time one fdatasync of the outbox's WAL took (a slowing card shows here before its backlog does).",
  },
  // Exposed from the outbox's durable counters instead (see exposition.ts).
  evicted: null,
  dead_lettered: null,
  disk_full_events: null,
};
