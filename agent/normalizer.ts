import { isClockPlausible, type Clock } from "../core/clock.js";
import {
  type ClockState,
  BOOLEAN_FIELDS,
  NUMERIC_FIELDS,
  type Measurement,
  type NumericField,
  type UnsequencedReading,
  unsequencedReading,
} from "../core/record.js";

/**
 * Physically possible ranges of each numeric field. A value outside is a sensor fault (a broken
 * probe reads -3276.8 or 850), never a reading: it becomes null and is counted.
 */
export const FIELD_RANGES: Readonly<Record<NumericField, readonly [number, number]>> = {
  temperature: [-60, 80],
  target_temperature: [-60, 40],
  ambient_temperature: [-60, 70],
  humidity_level: [0, 100],
  kilowatts: [0, 100],
  oxygen_level: [0, 100],
  carbon_dioxide_level: [0, 100],
  nitrogen_level: [0, 100],
  time_door_open: [0, 86_400],
  latitude: [-90, 90],
  longitude: [-180, 180],
};

/** A field the normalizer refused, and why. */
export interface SensorFault {
  readonly field: string;
  readonly value: unknown;
  readonly reason: "out of range" | "not a number" | "not a boolean";
}

export interface ReadingIdentity {
  readonly gatewayId: string;
  readonly bootId: string;
  readonly containerId: string;
  readonly productId: string;
}

/**
 * Turns what a driver read into a wire-contract record: every field present (null when unread
 * or implausible), the measurement time from the injected clock at millisecond precision (also
 * returned as `t`, epoch ms), and the clock flag.
 */
export function normalize(
  measurement: Measurement,
  identity: ReadingIdentity,
  clock: Clock,
  clockState?: ClockState,
): { reading: UnsequencedReading; t: number; faults: SensorFault[] } {
  const faults: SensorFault[] = [];
  // Whole milliseconds, as measurement_time carries them, so `t` equals its parse exactly.
  const now = Math.trunc(clock.now());
  const numbers = {} as Record<NumericField, number | null>;
  for (const field of NUMERIC_FIELDS) {
    const value = measurement[field];
    if (value === undefined || value === null) {
      numbers[field] = null;
    } else if (typeof value !== "number" || !Number.isFinite(value)) {
      faults.push({ field, value, reason: "not a number" });
      numbers[field] = null;
    } else {
      const [low, high] = FIELD_RANGES[field];
      const ok = value >= low && value <= high;
      if (!ok) faults.push({ field, value, reason: "out of range" });
      numbers[field] = ok ? value : null;
    }
  }
  const booleans = {} as Record<(typeof BOOLEAN_FIELDS)[number], boolean | null>;
  for (const field of BOOLEAN_FIELDS) {
    const value = measurement[field];
    if (value === undefined || value === null) booleans[field] = null;
    else if (typeof value === "boolean") booleans[field] = value;
    else {
      faults.push({ field, value, reason: "not a boolean" });
      booleans[field] = null;
    }
  }
  return {
    reading: unsequencedReading(
      {
        container_id: identity.containerId,
        measurement_time: new Date(now).toISOString(),
        product_id: identity.productId,
      },
      numbers,
      booleans,
      {
        gateway_id: identity.gatewayId,
        boot_id: identity.bootId,
        clock: clockState ?? (isClockPlausible(now) ? "synced" : "unsynced"),
      },
    ),
    // The measurement time in epoch ms as well: the rules judge on it without parsing the ISO text.
    t: now,
    faults,
  };
}
