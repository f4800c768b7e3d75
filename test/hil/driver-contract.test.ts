import { driverContract } from "../../drivers/driver.contract.js";
import { DRIVERS } from "../../drivers/registry.js";
import { DRIVER_RIGS } from "./driver-rigs.js";

// The contract runs once per entry of the driver registry (drivers/registry.ts); each entry's
// rig (driver-rigs.ts) is required by its type, so a new driver cannot skip it.
for (const type of Object.keys(DRIVERS) as (keyof typeof DRIVERS)[]) {
  const rig = DRIVER_RIGS[type];
  // A rig whose tool is missing has printed why (and thrown, in CI).
  if (rig.skip?.()) continue;
  driverContract(`${type} on ${rig.hardware}`, rig.can, () => rig.start());
}
