/**
 * The lake table's columns: the wire contract's reading (docs/wire-contract.md), in its order,
 * with Glue/Athena types. test/lake.test.ts checks them against the agent's own field lists.
 */
export const READING_COLUMNS: readonly { readonly name: string; readonly type: string }[] = [
  { name: "container_id", type: "string" },
  { name: "measurement_time", type: "string" },
  { name: "product_id", type: "string" },
  { name: "temperature", type: "double" },
  { name: "target_temperature", type: "double" },
  { name: "ambient_temperature", type: "double" },
  { name: "humidity_level", type: "double" },
  { name: "kilowatts", type: "double" },
  { name: "oxygen_level", type: "double" },
  { name: "carbon_dioxide_level", type: "double" },
  { name: "nitrogen_level", type: "double" },
  { name: "fan_1", type: "boolean" },
  { name: "fan_2", type: "boolean" },
  { name: "fan_3", type: "boolean" },
  { name: "time_door_open", type: "double" },
  { name: "defrost_cycle", type: "boolean" },
  { name: "latitude", type: "double" },
  { name: "longitude", type: "double" },
  { name: "gateway_id", type: "string" },
  { name: "boot_id", type: "string" },
  { name: "seq", type: "bigint" },
  { name: "clock", type: "string" },
];
