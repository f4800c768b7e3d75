/**
 * What arrives on faulty-reefers, read and checked: the edge's alert records (reefer.alert.v1,
 * put there by the alerts rule) and the Flink job's window records (`source: "cloud"`). Both
 * name one key, so that the edge's and the cloud's record of one window are one alert.
 */
export interface ActAlert {
  /** The idempotency key: the edge's alert_id, or the same id built for the job's window. */
  readonly key: string;
  readonly containerId: string;
  readonly gatewayId: string | null;
  readonly alertType: string;
  readonly severity: string;
  readonly state: string;
  readonly source: "edge" | "cloud";
  readonly record: Record<string, unknown>;
}

/** A record that can never be processed: retrying it would only block its shard. */
export class PoisonRecordError extends Error {
  override name = "PoisonRecordError";
}

export function parseAlert(text: string): ActAlert {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PoisonRecordError(`not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new PoisonRecordError("not a JSON object");
  const record = value as Record<string, unknown>;
  const text_ = (field: string): string => {
    const v = record[field];
    if (typeof v !== "string" || v === "")
      throw new PoisonRecordError(`${field}: missing or not a string`);
    return v;
  };
  if (record.schema === "reefer.alert.v1") {
    return {
      key: text_("alert_id"),
      containerId: text_("container_id"),
      gatewayId: typeof record.gateway_id === "string" ? record.gateway_id : null,
      alertType: text_("alert_type"),
      severity: text_("severity"),
      state: text_("state"),
      source: "edge",
      record,
    };
  }
  if (record.source === "cloud") {
    const container = text_("container_id");
    const start = flinkTimestamp(text_("window_start"));
    return {
      // The edge's temperature_window alert_id: {container_id}:temperature_window:{start, ms}.
      key: `${container}:temperature_window:${start}`,
      containerId: container,
      gatewayId: null,
      alertType: "temperature_window",
      severity: "warning",
      state: "closed",
      source: "cloud",
      record,
    };
  }
  throw new PoisonRecordError("neither a reefer.alert.v1 record nor a cloud window record");
}

/** Flink's JSON TIMESTAMP(3) ("2026-11-25 12:00:00.000", UTC here) in ms since the epoch. */
function flinkTimestamp(text: string): number {
  const ms = Date.parse(`${text.replace(" ", "T")}Z`);
  if (!Number.isFinite(ms)) throw new PoisonRecordError(`window_start: not a timestamp: ${text}`);
  return ms;
}
