import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { DriverProblem, Prepared } from "../driver.js";
import { busKey, type ModbusDriverConfig } from "./config.js";
import { isBuiltinProfile, loadProfile, ProfileError } from "./profile.js";
import type { Profile } from "./profile-schema.js";
import type { SerialLine } from "./transport.js";

/**
 * Resolves profile paths against the config file's folder, loads every profile (a missing or
 * invalid one is a problem at `devices[i].profile`), refuses a field filled by two devices, and
 * fills the serial line settings the config leaves to the first device's profile.
 */
export function prepareModbusConfig<C extends ModbusDriverConfig>(
  config: C,
  baseDir: string,
): Prepared<C> {
  const problems: DriverProblem[] = [];
  const owners = new Map<string, number>();
  const profiles: (Profile | null)[] = [];
  const devices = config.devices.map((device, index) => {
    const profile =
      isBuiltinProfile(device.profile) || isAbsolute(device.profile)
        ? device.profile
        : resolve(baseDir, device.profile);
    try {
      const loaded = loadProfile(profile, baseDir);
      profiles.push(loaded);
      for (const mapping of loaded.registers) {
        const first = owners.get(mapping.field);
        if (first !== undefined && first !== index) {
          problems.push({
            path: `devices[${index}].profile`,
            message: `${mapping.field} is also read from devices[${first}]: a field comes from one device`,
          });
        } else owners.set(mapping.field, index);
      }
    } catch (error) {
      profiles.push(null);
      const reasons = error instanceof ProfileError ? error.problems : [(error as Error).message];
      for (const reason of reasons) {
        problems.push({
          path: `devices[${index}].profile`,
          message: `${device.profile}: ${reason}`,
        });
      }
    }
    return { ...device, profile };
  });
  const seen = new Map<number, number>();
  devices.forEach((device, index) => {
    const first = seen.get(device.unitId);
    if (first !== undefined) {
      problems.push({
        path: `devices[${index}].unitId`,
        message: `unit ${device.unitId} is also devices[${first}]`,
      });
    } else seen.set(device.unitId, index);
  });
  if (config.type === "modbus-rtu") {
    config.devices.forEach((device, index) => {
      if (device.unitId < 1 || device.unitId > 247) {
        problems.push({
          path: `devices[${index}].unitId`,
          message: "a serial bus addresses units 1-247 (0 is broadcast, which gets no answer)",
        });
      }
    });
    return {
      config: {
        ...config,
        devices,
        ...lineSettings(config, profiles[0]?.line ?? {}),
        port: isAbsolute(config.port) ? config.port : resolve(baseDir, config.port),
      },
      problems,
    };
  }
  return { config: { ...config, devices }, problems };
}

/** Each line setting: the config's, else the profile's, else 9600 8N1. */
function lineSettings(
  config: Partial<Omit<SerialLine, "path">>,
  line: Profile["line"],
): Omit<SerialLine, "path"> {
  return {
    baudRate: config.baudRate ?? line.baudRate ?? 9600,
    parity: config.parity ?? line.parity ?? "none",
    dataBits: config.dataBits ?? line.dataBits ?? 8,
    stopBits: config.stopBits ?? line.stopBits ?? 1,
  };
}

/**
 * The line of an RTU driver. A loaded config has every setting filled by prepare; one built in
 * code may leave some to its first device's profile.
 */
export function serialLineOf(config: ModbusDriverConfig & { type: "modbus-rtu" }): SerialLine {
  const first = config.devices[0];
  const complete = [config.baudRate, config.parity, config.dataBits, config.stopBits].every(
    (v) => v !== undefined,
  );
  const line = complete || !first ? {} : loadProfile(first.profile, process.cwd()).line;
  return { path: config.port, ...lineSettings(config, line) };
}

/**
 * Drivers on one port share one bus: they must agree on its line settings and timing, and a
 * unit id answers for one device only. Paths in and out are absolute (`containers[2].driver`).
 */
export function checkSharedBuses(
  drivers: readonly { path: string; config: ModbusDriverConfig }[],
): DriverProblem[] {
  const problems: DriverProblem[] = [];
  const buses = new Map<string, { path: string; config: ModbusDriverConfig }>();
  const units = new Map<string, string>();
  for (const driver of drivers) {
    const key = busKey(driver.config);
    const first = buses.get(key);
    if (!first) buses.set(key, driver);
    else {
      for (const setting of SHARED_SETTINGS) {
        const a = describeSetting((first.config as Record<string, unknown>)[setting]);
        const b = describeSetting((driver.config as Record<string, unknown>)[setting]);
        if (a !== b) {
          problems.push({
            path: `${driver.path}.${setting}`,
            message: `shares its bus with ${first.path}, which has ${setting} ${a} (this: ${b}); one port has one setting`,
          });
        }
      }
    }
    driver.config.devices.forEach((device, index) => {
      const unitKey = `${key}#${device.unitId}`;
      const owner = units.get(unitKey);
      const here = `${driver.path}.devices[${index}]`;
      if (owner !== undefined && !owner.startsWith(`${driver.path}.`)) {
        problems.push({
          path: `${here}.unitId`,
          message: `unit ${device.unitId} on this bus is already ${owner}`,
        });
      } else if (owner === undefined) units.set(unitKey, here);
    });
  }
  return problems;
}

const SHARED_SETTINGS = [
  "type",
  "baudRate",
  "parity",
  "dataBits",
  "stopBits",
  "interFrameDelayMs",
  "breaker",
  "reopen",
  "connectTimeoutMs",
] as const;

/** For `validate`: a serial port that is not there now is worth a warning, not a refusal. */
export function missingPortWarning(config: { type: string; port?: unknown }): string | null {
  if (config.type !== "modbus-rtu" || typeof config.port !== "string") return null;
  if (existsSync(config.port)) return null;
  return `${config.port} does not exist now; the agent will keep trying to open it (is the adapter plugged in? see \`reefer-edge ports\`)`;
}

function describeSetting(value: unknown): string {
  return value === undefined ? "unset" : JSON.stringify(value);
}
