import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BOOLEAN_FIELDS, NUMERIC_FIELDS } from "../../core/record.js";
import { decodeRequest, encodeMeasurement } from "./codec.js";
import { loadProfile, parseProfile } from "./profile.js";
import { planRequests, type ReadRequest } from "./request-plan.js";

/** Decodes a register dump (address -> word, or bits) the way the driver decodes each answer. */
function decodeDump(
  requests: readonly ReadRequest[],
  dump: { input?: number[]; holding?: number[]; coil?: boolean[]; discrete?: boolean[] },
) {
  const measurement: Record<string, unknown> = {};
  const faults: { field: string; raw: number }[] = [];
  for (const request of requests) {
    const source = dump[request.function] ?? [];
    const answer = source.slice(request.start, request.start + request.count);
    const decoded = decodeRequest(request, answer);
    Object.assign(measurement, decoded.measurement);
    faults.push(...decoded.faults);
  }
  return { measurement, faults };
}

function words(values: Record<number, number>, length = 128): number[] {
  const out = new Array<number>(length).fill(0);
  for (const [address, value] of Object.entries(values)) out[Number(address)] = value;
  return out;
}

describe("xy-md02 profile", () => {
  const profile = loadProfile("xy-md02", ".");
  const requests = planRequests(profile);

  it("reads temperature and humidity in one FC 04 request from address 1", () => {
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ code: 4, start: 1, count: 2 });
  });

  it.each([
    // [temperature word, humidity word, °C, %]
    [0xff33, 0x021c, -20.5, 54], // the datasheet's negative example
    [0x00fa, 0x01c3, 25, 45.1],
    [0x0000, 0x0000, 0, 0],
    [0xffff, 0x03e8, -0.1, 100],
    [0xfe0c, 0x0001, -50, 0.1],
  ])("decodes %s/%s as %s °C and %s %%", (t, h, celsius, percent) => {
    const { measurement, faults } = decodeDump(requests, { input: words({ 1: t, 2: h }) });
    expect(measurement).toEqual({ temperature: celsius, humidity_level: percent });
    expect(faults).toEqual([]);
  });

  it("defaults to 9600 8N1", () => {
    expect(profile.line).toEqual({ baudRate: 9600, parity: "none", dataBits: 8, stopBits: 1 });
  });
});

describe("reefer-controller-template profile", () => {
  const profile = loadProfile("reefer-controller-template", ".");
  const requests = planRequests(profile);

  it("covers every wire-contract field", () => {
    const fields = new Set(profile.registers.map((r) => r.field));
    expect([...fields].sort()).toEqual([...NUMERIC_FIELDS, ...BOOLEAN_FIELDS].sort());
  });

  it("groups its blocks into one request each", () => {
    expect(requests.map((r) => [r.function, r.start, r.count])).toEqual([
      ["discrete", 0, 1],
      ["holding", 100, 2],
      ["holding", 110, 4],
      ["input", 0, 4],
      ["input", 16, 8],
      ["input", 30, 1],
    ]);
  });

  it("decodes a full dump: negative temperatures, CDAB floats, int32, bits", () => {
    const input = words({
      0: 0xfc18, // -10.00 °C return air
      1: 0xfc7c, // -9.00 °C setpoint
      2: 0x0a28, // 26.00 °C ambient
      3: 0x0352, // 85.0 %
      // kilowatts 4.25 = 0x40880000, CDAB: low word first
      16: 0x0000,
      17: 0x4088,
      // oxygen 20.9 = 0x41A73333
      18: 0x3333,
      19: 0x41a7,
      // co2 0.04 = 0x3D23D70A
      20: 0xd70a,
      21: 0x3d23,
      // nitrogen 78.1 = 0x429C3333
      22: 0x3333,
      23: 0x429c,
      30: 0b101, // fans 1 and 3 running, fan 2 stopped
    });
    const holding = words(
      {
        100: 0x0000,
        101: 0x0078, // door open 120 s
        110: 0xfd2b, // latitude -47.5: -47500000 = 0xFD2B3520, big endian
        111: 0x3520,
        112: 0x0044, // longitude 4.5 = 4500000 = 0x0044AA20
        113: 0xaa20,
      },
      128,
    );
    const { measurement, faults } = decodeDump(requests, {
      input,
      holding,
      discrete: [true],
    });
    expect(faults).toEqual([]);
    expect(measurement).toEqual({
      temperature: -10,
      target_temperature: -9,
      ambient_temperature: 26,
      humidity_level: 85,
      kilowatts: 4.25,
      oxygen_level: 20.9,
      carbon_dioxide_level: 0.04,
      nitrogen_level: 78.1,
      time_door_open: 120,
      latitude: -47.5,
      longitude: 4.5,
      fan_1: true,
      fan_2: false,
      fan_3: true,
      defrost_cycle: true,
    });
  });

  it("decodes sentinels to null and counts each as a fault, never a number", () => {
    const { measurement, faults } = decodeDump(requests, {
      input: words({ 0: 0x7fff, 2: 0x8000, 3: 0xffff, 18: 0x0000, 19: 0x7fc0 }),
      holding: words({ 110: 0x7fff, 111: 0xffff }),
      discrete: [false],
    });
    expect(measurement).toMatchObject({
      temperature: null,
      ambient_temperature: null,
      humidity_level: null,
      oxygen_level: null,
      latitude: null,
      target_temperature: 0,
      defrost_cycle: false,
    });
    expect(faults).toEqual([
      { field: "latitude", raw: 0x7fffffff },
      { field: "temperature", raw: 0x7fff },
      { field: "ambient_temperature", raw: 0x8000 },
      { field: "humidity_level", raw: 0xffff },
      { field: "oxygen_level", raw: 0x7fc00000 },
    ]);
  });
});

describe("32-bit byte orders", () => {
  // 123.456 as float32 is 0x42F6E979: A=42 B=F6 C=E9 D=79.
  it.each([
    ["ABCD", [0x42f6, 0xe979]],
    ["CDAB", [0xe979, 0x42f6]],
    ["BADC", [0xf642, 0x79e9]],
    ["DCBA", [0x79e9, 0xf642]],
  ])("float32 %s", (order, registers) => {
    const profile = parseProfile(
      `name: t\nregisters:\n  - { field: kilowatts, function: holding, address: 0, type: float32, byteOrder: ${order} }\n`,
      "t",
    );
    const [request] = planRequests(profile);
    if (!request) throw new Error("no request");
    expect(decodeRequest(request, registers).measurement).toEqual({ kilowatts: 123.456 });
  });

  it.each([
    ["ABCD", [0xffff, 0xfffe], -2],
    ["CDAB", [0xfffe, 0xffff], -2],
    ["BADC", [0xffff, 0xfeff], -2],
    ["DCBA", [0xfeff, 0xffff], -2],
  ])("int32 %s", (order, registers, expected) => {
    const profile = parseProfile(
      `name: t\nregisters:\n  - { field: kilowatts, function: holding, address: 0, type: int32, byteOrder: ${order} }\n`,
      "t",
    );
    const [request] = planRequests(profile);
    if (!request) throw new Error("no request");
    expect(decodeRequest(request, registers).measurement).toEqual({ kilowatts: expected });
  });

  it("a byte-swapped 16-bit register (BA)", () => {
    const profile = parseProfile(
      "name: t\nregisters:\n  - { field: temperature, function: input, address: 5, type: int16, byteOrder: BA, scale: 0.1 }\n",
      "t",
    );
    const [request] = planRequests(profile);
    if (!request) throw new Error("no request");
    expect(decodeRequest(request, [0x33ff]).measurement).toEqual({ temperature: -20.5 });
  });
});

describe("encode is the inverse of decode (the HIL slave serves what the driver reads)", () => {
  it("for any measurement the template can carry", () => {
    const profile = loadProfile("reefer-controller-template", ".");
    const requests = planRequests(profile);
    const centi = (lo: number, hi: number) =>
      fc.integer({ min: lo * 100, max: hi * 100 }).map((n) => n / 100);
    fc.assert(
      fc.property(
        fc.record({
          temperature: centi(-40, 60),
          target_temperature: centi(-30, 30),
          humidity_level: fc.integer({ min: 0, max: 1000 }).map((n) => n / 10),
          kilowatts: fc.integer({ min: 0, max: 3000 }).map((n) => n / 100),
          time_door_open: fc.integer({ min: 0, max: 86_400 }),
          latitude: fc.integer({ min: -90_000_000, max: 90_000_000 }).map((n) => n / 1e6),
          fan_1: fc.boolean(),
          fan_2: fc.boolean(),
          defrost_cycle: fc.boolean(),
        }),
        (measurement) => {
          const encoded = encodeMeasurement(profile, measurement);
          const dump = {
            input: words(Object.fromEntries(encoded.input)),
            holding: words(Object.fromEntries(encoded.holding)),
            discrete: Array.from({ length: 8 }, (_, i) => encoded.discrete.get(i) ?? false),
          };
          const { measurement: decoded } = decodeDump(requests, dump);
          expect(decoded).toMatchObject(measurement);
        },
      ),
    );
  });
});
