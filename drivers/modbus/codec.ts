import type { Measurement, MeasurementField } from "../../core/record.js";
import {
  isBitFunction,
  isBooleanField,
  wordsOf,
  type Profile,
  type RegisterMapping,
} from "./profile-schema.js";
import type { ReadRequest } from "./request-plan.js";

/** A register whose raw contents matched one of its profile's fault values. */
export interface SentinelFault {
  readonly field: MeasurementField;
  readonly raw: number;
}

export interface Decoded {
  readonly measurement: Measurement;
  readonly faults: SentinelFault[];
}

/**
 * Decodes one request's answer: `words` are the registers as uint16 (FC 03/04), `bits` the coils
 * or inputs (FC 01/02). A sentinel becomes null plus a fault; a NaN or infinite float becomes
 * null (the normalizer counts it as not a number).
 */
export function decodeRequest(
  request: ReadRequest,
  answer: readonly number[] | readonly boolean[],
): Decoded {
  const measurement: Record<string, number | boolean | null> = {};
  const faults: SentinelFault[] = [];
  for (const mapping of request.mappings) {
    const at = mapping.address - request.start;
    if (isBitFunction(mapping.function)) {
      const bit = answer[at];
      if (typeof bit !== "boolean") throw new Error(`answer has no bit at ${mapping.address}`);
      measurement[mapping.field] = bit !== mapping.invert;
      continue;
    }
    const words = answer.slice(at, at + wordsOf(mapping.type));
    if (words.length !== wordsOf(mapping.type) || words.some((w) => typeof w !== "number")) {
      throw new Error(`answer is short of register ${mapping.address}`);
    }
    const raw = rawBits(mapping, words as number[]);
    if (mapping.faultValues.includes(raw)) {
      measurement[mapping.field] = null;
      faults.push({ field: mapping.field, raw });
      continue;
    }
    measurement[mapping.field] = decodeValue(mapping, raw);
  }
  return { measurement, faults };
}

/** The register contents as one unsigned number in the value's byte order (A most significant). */
function rawBits(mapping: RegisterMapping, words: readonly number[]): number {
  const order = mapping.byteOrder ?? (words.length === 2 ? "ABCD" : "AB");
  const arrived = words.flatMap((w) => [(w >> 8) & 0xff, w & 0xff]);
  let value = 0;
  // The n-th byte on the wire is the value's byte named by the n-th letter of the order.
  const bytes = new Array<number>(arrived.length).fill(0);
  for (let i = 0; i < arrived.length; i++) {
    bytes[order.charCodeAt(i) - 65] = arrived[i] ?? 0;
  }
  for (const byte of bytes) value = value * 256 + byte;
  return value;
}

function decodeValue(mapping: RegisterMapping, raw: number): number | boolean | null {
  switch (mapping.type) {
    case "bit":
      return (((raw >> (mapping.bit ?? 0)) & 1) === 1) !== mapping.invert;
    case "uint16":
      if (isBooleanField(mapping.field)) return (raw !== 0) !== mapping.invert;
      return scaled(mapping, raw);
    case "int16":
      return scaled(mapping, raw >= 0x8000 ? raw - 0x10000 : raw);
    case "uint32":
      return scaled(mapping, raw);
    case "int32":
      return scaled(mapping, raw >= 0x8000_0000 ? raw - 0x1_0000_0000 : raw);
    case "float32": {
      const view = new DataView(new ArrayBuffer(4));
      view.setUint32(0, raw);
      const value = view.getFloat32(0);
      if (!Number.isFinite(value)) return null;
      // A float32 carries about 7 significant digits; more would be conversion noise.
      const exact = Number(value.toPrecision(7)) * mapping.scale + mapping.offset;
      return Number(exact.toPrecision(7));
    }
    case "bool":
      throw new Error("bool is decoded from bits");
  }
}

/**
 * raw × scale + offset, rounded to the precision the scale and offset carry: 205 × 0.1 must be
 * 20.5, not 20.500000000000004, or the cloud's equality checks and the bytes on the wire suffer.
 */
function scaled(mapping: RegisterMapping, raw: number): number {
  const value = raw * mapping.scale + mapping.offset;
  const digits = Math.min(10, Math.max(decimals(mapping.scale), decimals(mapping.offset)));
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function decimals(n: number): number {
  if (Number.isInteger(n)) return 0;
  const text = n.toExponential();
  const [mantissa = "", exponent = "0"] = text.split("e");
  const fraction = mantissa.split(".")[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent));
}

/** Register contents that make a device report `measurement` through `profile`: the HIL rig's slave side. */
export interface EncodedRegisters {
  readonly holding: Map<number, number>;
  readonly input: Map<number, number>;
  readonly coil: Map<number, boolean>;
  readonly discrete: Map<number, boolean>;
}

/**
 * The inverse of decoding, for a simulated device: a null (or absent) value writes the mapping's
 * first fault value when it has one, and leaves the register alone when it has none.
 */
export function encodeMeasurement(profile: Profile, measurement: Measurement): EncodedRegisters {
  const out: EncodedRegisters = {
    holding: new Map(),
    input: new Map(),
    coil: new Map(),
    discrete: new Map(),
  };
  for (const mapping of profile.registers) {
    const value = measurement[mapping.field];
    if (mapping.function === "coil" || mapping.function === "discrete") {
      if (typeof value === "boolean")
        out[mapping.function].set(mapping.address, value !== mapping.invert);
      continue;
    }
    const target = out[mapping.function];
    let raw: number | undefined;
    if (value === null || value === undefined) raw = mapping.faultValues[0];
    else raw = rawOf(mapping, value, target.get(mapping.address) ?? 0);
    if (raw === undefined) continue;
    writeWords(mapping, raw, target);
  }
  return out;
}

function rawOf(mapping: RegisterMapping, value: number | boolean, current: number): number {
  if (typeof value === "boolean") {
    const on = value !== mapping.invert;
    if (mapping.type === "bit") {
      const mask = 1 << (mapping.bit ?? 0);
      return on ? current | mask : current & ~mask & 0xffff;
    }
    return on ? 1 : 0;
  }
  const unscaled = (value - mapping.offset) / mapping.scale;
  switch (mapping.type) {
    case "float32": {
      const view = new DataView(new ArrayBuffer(4));
      view.setFloat32(0, unscaled);
      return view.getUint32(0);
    }
    case "int16":
      return clampTo(Math.round(unscaled), -0x8000, 0x7fff) & 0xffff;
    case "uint16":
      return clampTo(Math.round(unscaled), 0, 0xffff);
    case "int32":
      return clampTo(Math.round(unscaled), -0x8000_0000, 0x7fff_ffff) >>> 0;
    case "uint32":
      return clampTo(Math.round(unscaled), 0, 0xffff_ffff);
    default:
      throw new Error(`${mapping.type} cannot hold a number`);
  }
}

function clampTo(n: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, n));
}

function writeWords(mapping: RegisterMapping, raw: number, target: Map<number, number>): void {
  const words = wordsOf(mapping.type);
  const order = mapping.byteOrder ?? (words === 2 ? "ABCD" : "AB");
  const valueBytes: number[] = [];
  for (let i = words * 2 - 1; i >= 0; i--) valueBytes.push(Math.floor(raw / 256 ** i) % 256);
  const arrived = Array.from(order, (letter) => valueBytes[letter.charCodeAt(0) - 65] ?? 0);
  for (let w = 0; w < words; w++) {
    target.set(mapping.address + w, ((arrived[w * 2] ?? 0) << 8) | (arrived[w * 2 + 1] ?? 0));
  }
}
