/**
 * Wire contract v1 (docs/wire-contract.md): one flat snake_case JSON object per reading, read by the cloud's
 * streaming SQL and the data lake without a transform. Change it only with a new schema version.
 */

/** Numeric measurements, in the contract's units. */
export const NUMERIC_FIELDS = [
  "temperature",
  "target_temperature",
  "ambient_temperature",
  "humidity_level",
  "kilowatts",
  "oxygen_level",
  "carbon_dioxide_level",
  "nitrogen_level",
  "time_door_open",
  "latitude",
  "longitude",
] as const;

export const BOOLEAN_FIELDS = ["fan_1", "fan_2", "fan_3", "defrost_cycle"] as const;

export type NumericField = (typeof NUMERIC_FIELDS)[number];
export type BooleanField = (typeof BOOLEAN_FIELDS)[number];
export type MeasurementField = NumericField | BooleanField;

/** What a driver returns: each field it could read; a field it cannot read is null or absent. */
export type Measurement = Partial<Record<NumericField, number | null>> &
  Partial<Record<BooleanField, boolean | null>>;

export type ClockState = "synced" | "unsynced";

export type ReeferReading = {
  container_id: string;
  /** ISO 8601 UTC with `Z`, millisecond precision. */
  measurement_time: string;
  product_id: string;
} & Record<NumericField, number | null> &
  Record<BooleanField, boolean | null> & {
    gateway_id: string;
    boot_id: string;
    /** Per container, strictly increasing, survives restarts. */
    seq: number;
    clock: ClockState;
  };

/** A reading before the outbox gave it its sequence number. */
export type UnsequencedReading = Omit<ReeferReading, "seq">;
