import type { UnsequencedReading } from "../../core/record.js";

/** A plausible unsequenced reading for outbox and publisher tests. */
export function makeReading(
  containerId: string,
  at = Date.UTC(2026, 10, 25, 12),
  overrides: Partial<UnsequencedReading> = {},
): UnsequencedReading {
  return {
    container_id: containerId,
    measurement_time: new Date(at).toISOString(),
    product_id: "P02",
    temperature: 6.1,
    target_temperature: 6,
    ambient_temperature: 24.5,
    humidity_level: 60.2,
    kilowatts: 4.4,
    oxygen_level: 20.6,
    carbon_dioxide_level: 3.1,
    nitrogen_level: 75.4,
    time_door_open: 0,
    latitude: null,
    longitude: null,
    fan_1: true,
    fan_2: true,
    fan_3: true,
    defrost_cycle: false,
    gateway_id: "gw-test",
    boot_id: "00000000-0000-4000-8000-000000000000",
    clock: "synced",
    ...overrides,
  };
}
