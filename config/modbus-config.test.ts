import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../test/support/tmp.js";
import { ConfigError, loadConfigFile } from "./load.js";

const HEAD = `
version: 1
gateway: { id: gw-0001 }
mqtt: { url: "mqtt://localhost:1883" }
containers:
`;

let temp: ReturnType<typeof makeTempDir>;
beforeEach(() => {
  temp = makeTempDir();
});
afterEach(() => {
  temp.cleanup();
});

function problems(containers: string): string[] {
  const file = join(temp.dir, "agent.yaml");
  writeFileSync(file, HEAD + containers);
  try {
    loadConfigFile(file);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe("Modbus driver config", () => {
  it("takes an XY-MD02 with nothing but its port, with the profile's 9600 8N1", () => {
    const file = join(temp.dir, "agent.yaml");
    writeFileSync(
      file,
      HEAD +
        "  - id: C1\n    product: P01\n    driver:\n      type: modbus-rtu\n      port: /dev/serial/by-id/usb-1a86_USB_Serial-if00-port0\n      devices: [{ unitId: 1, profile: xy-md02 }]\n",
    );
    const driver = loadConfigFile(file).containers[0]?.driver;
    expect(driver).toMatchObject({
      type: "modbus-rtu",
      baudRate: 9600,
      parity: "none",
      dataBits: 8,
      stopBits: 1,
      timeoutMs: 500,
      retries: 1,
    });
  });

  it("refuses an unknown profile, naming the built-ins", () => {
    expect(
      problems(
        "  - { id: C1, product: P01, driver: { type: modbus-rtu, port: /dev/ttyUSB0, devices: [{ unitId: 1, profile: xy-md03 }] } }\n",
      ),
    ).toEqual([
      "containers[0].driver.devices[0].profile: xy-md03: no built-in profile of that name (known: reefer-controller-template, xy-md02); a profile file is given by a path such as ./profiles/xy-md03.yaml",
    ]);
  });

  it("refuses a missing profile file, relative to the config file", () => {
    expect(
      problems(
        "  - { id: C1, product: P01, driver: { type: modbus-rtu, port: /dev/ttyUSB0, devices: [{ unitId: 1, profile: ./vendor.yaml }] } }\n",
      )[0],
    ).toMatch(
      new RegExp(
        `^containers\\[0\\]\\.driver\\.devices\\[0\\]\\.profile: \\./vendor\\.yaml: cannot read ${join(temp.dir, "vendor.yaml")}`,
      ),
    );
  });

  it("refuses a missing port with the path", () => {
    expect(
      problems(
        "  - { id: C1, product: P01, driver: { type: modbus-rtu, devices: [{ unitId: 1, profile: xy-md02 }] } }\n",
      ),
    ).toEqual([
      "containers[0].driver.port: required: the RS-485 adapter's serial port, e.g. /dev/serial/by-id/usb-FTDI_..._port0",
    ]);
  });

  it("refuses a profile whose registers overlap, naming both entries", () => {
    writeFileSync(
      join(temp.dir, "bad.yaml"),
      [
        "name: bad",
        "registers:",
        "  - { field: temperature, function: input, address: 10, type: int32 }",
        "  - { field: humidity_level, function: input, address: 11 }",
        "  - { field: fan_1, function: input, address: 20, type: bit, bit: 3 }",
        "  - { field: fan_2, function: input, address: 20, type: bit, bit: 3 }",
        "  - { field: fan_3, function: input, address: 20, type: bit, bit: 4 }",
      ].join("\n"),
    );
    expect(
      problems(
        "  - { id: C1, product: P01, driver: { type: modbus-rtu, port: /dev/ttyUSB0, devices: [{ unitId: 1, profile: bad.yaml }] } }\n",
      ),
    ).toEqual([
      "containers[0].driver.devices[0].profile: bad.yaml: registers[1]: input register 0x000B overlaps registers[0]",
      "containers[0].driver.devices[0].profile: bad.yaml: registers[3]: input register 0x0014 overlaps registers[2]",
    ]);
  });

  it("refuses a register type that cannot fill its field", () => {
    writeFileSync(
      join(temp.dir, "types.yaml"),
      "name: t\nregisters:\n  - { field: temperature, function: coil, address: 1 }\n  - { field: fan_1, function: holding, address: 2, type: float32 }\n",
    );
    expect(
      problems(
        "  - { id: C1, product: P01, driver: { type: modbus-tcp, host: 10.0.0.5, devices: [{ unitId: 1, profile: types.yaml }] } }\n",
      ),
    ).toEqual([
      "containers[0].driver.devices[0].profile: types.yaml: registers[0]: temperature is a number: a bool cannot fill it",
      "containers[0].driver.devices[0].profile: types.yaml: registers[1]: fan_1 is a boolean: use bit, bool or uint16 (non-zero is true)",
    ]);
  });

  it("lets containers share a port only with the same line settings and distinct units", () => {
    expect(
      problems(
        [
          "  - { id: C1, product: P01, driver: { type: modbus-rtu, port: /dev/ttyUSB0, devices: [{ unitId: 1, profile: xy-md02 }] } }",
          "  - { id: C2, product: P01, driver: { type: modbus-rtu, port: /dev/ttyUSB0, parity: even, devices: [{ unitId: 2, profile: xy-md02 }] } }",
          "  - { id: C3, product: P01, driver: { type: modbus-rtu, port: /dev/ttyUSB0, devices: [{ unitId: 1, profile: xy-md02 }] } }",
          "  - { id: C4, product: P01, driver: { type: modbus-rtu, port: /dev/ttyUSB1, devices: [{ unitId: 1, profile: xy-md02 }] } }",
          "",
        ].join("\n"),
      ),
    ).toEqual([
      'containers[1].driver.parity: shares its bus with containers[0].driver, which has parity "none" (this: "even"); one port has one setting',
      "containers[2].driver.devices[0].unitId: unit 1 on this bus is already containers[0].driver.devices[0]",
    ]);
  });

  it("refuses a field read from two devices of one container, and unit 0 on a serial bus", () => {
    expect(
      problems(
        "  - { id: C1, product: P01, driver: { type: modbus-rtu, port: /dev/ttyUSB0, devices: [{ unitId: 0, profile: xy-md02 }, { unitId: 2, profile: reefer-controller-template }] } }\n",
      ),
    ).toEqual([
      "containers[0].driver.devices[1].profile: temperature is also read from devices[0]: a field comes from one device",
      "containers[0].driver.devices[1].profile: humidity_level is also read from devices[0]: a field comes from one device",
      "containers[0].driver.devices[0].unitId: a serial bus addresses units 1-247 (0 is broadcast, which gets no answer)",
    ]);
  });
});
