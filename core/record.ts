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

/**
 * A reading of the contract's fields, built as one object literal field by field. V8 keeps such
 * an object's fields in the object itself; a copy made by spread (`{ ...reading, seq }`) came out
 * in a layout where the rules' field checks ran about 20x slower (test/bench/rules.ts found it).
 * The agent builds its readings only through these two functions.
 */
export function unsequencedReading(
  head: Pick<UnsequencedReading, "container_id" | "measurement_time" | "product_id">,
  n: Record<NumericField, number | null>,
  b: Record<BooleanField, boolean | null>,
  tail: Pick<UnsequencedReading, "gateway_id" | "boot_id" | "clock">,
): UnsequencedReading {
  return {
    container_id: head.container_id,
    measurement_time: head.measurement_time,
    product_id: head.product_id,
    temperature: n.temperature,
    target_temperature: n.target_temperature,
    ambient_temperature: n.ambient_temperature,
    humidity_level: n.humidity_level,
    kilowatts: n.kilowatts,
    oxygen_level: n.oxygen_level,
    carbon_dioxide_level: n.carbon_dioxide_level,
    nitrogen_level: n.nitrogen_level,
    time_door_open: n.time_door_open,
    latitude: n.latitude,
    longitude: n.longitude,
    fan_1: b.fan_1,
    fan_2: b.fan_2,
    fan_3: b.fan_3,
    defrost_cycle: b.defrost_cycle,
    gateway_id: tail.gateway_id,
    boot_id: tail.boot_id,
    clock: tail.clock,
  };
}

/** The reading with its seq (last, as it goes on the wire), built as unsequencedReading says. */
export function withSeq(r: UnsequencedReading, seq: number): ReeferReading {
  return {
    container_id: r.container_id,
    measurement_time: r.measurement_time,
    product_id: r.product_id,
    temperature: r.temperature,
    target_temperature: r.target_temperature,
    ambient_temperature: r.ambient_temperature,
    humidity_level: r.humidity_level,
    kilowatts: r.kilowatts,
    oxygen_level: r.oxygen_level,
    carbon_dioxide_level: r.carbon_dioxide_level,
    nitrogen_level: r.nitrogen_level,
    time_door_open: r.time_door_open,
    latitude: r.latitude,
    longitude: r.longitude,
    fan_1: r.fan_1,
    fan_2: r.fan_2,
    fan_3: r.fan_3,
    defrost_cycle: r.defrost_cycle,
    gateway_id: r.gateway_id,
    boot_id: r.boot_id,
    clock: r.clock,
    seq,
  };
}
