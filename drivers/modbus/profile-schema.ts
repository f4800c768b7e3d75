import { z } from "zod";
import { BOOLEAN_FIELDS, NUMERIC_FIELDS } from "../../core/record.js";

/**
 * A register profile: how one device model's registers map to the wire contract's fields. Data,
 * not code: one YAML file per device model, so an integrator adds a controller without writing
 * TypeScript (drivers/modbus/profiles/README.md).
 */

export const FUNCTIONS = {
  coil: 1,
  discrete: 2,
  holding: 3,
  input: 4,
} as const;

export type RegisterFunction = keyof typeof FUNCTIONS;

export type RegisterType = "int16" | "uint16" | "int32" | "uint32" | "float32" | "bit" | "bool";

/** Byte orders as Telegraf's Modbus input names them: the letters are the value's bytes, A the most significant. */
export const WORD_ORDERS_16 = ["AB", "BA"] as const;
export const WORD_ORDERS_32 = ["ABCD", "CDAB", "BADC", "DCBA"] as const;

/** Registers one request may read (FC 03/04) and bits (FC 01/02), by the Modbus spec. */
export const MAX_REGISTERS_PER_REQUEST = 125;
export const MAX_BITS_PER_REQUEST = 2000;

const FIELDS = [...NUMERIC_FIELDS, ...BOOLEAN_FIELDS] as const;

const registerSchema = z
  .strictObject({
    field: z.enum(FIELDS).describe("The wire-contract field this register fills."),
    function: z
      .enum(["holding", "input", "coil", "discrete"])
      .describe("holding (FC 03), input (FC 04), coil (FC 01) or discrete (FC 02)."),
    address: z
      .int()
      .min(0)
      .max(0xffff)
      .describe("Protocol (PDU) address as on the wire, 0-based: not the 30001/40001 number."),
    type: z
      .enum(["int16", "uint16", "int32", "uint32", "float32", "bit", "bool"])
      .optional()
      .describe(
        "int16, uint16, int32, uint32, float32, bit (one bit of a register) or bool (a coil or discrete input). Default: bool for coils and discrete inputs, int16 otherwise.",
      ),
    byteOrder: z
      .enum([...WORD_ORDERS_16, ...WORD_ORDERS_32])
      .optional()
      .describe(
        "AB/BA for 16-bit types; ABCD (big endian), CDAB (word swap), BADC (byte swap) or DCBA (little endian) for 32-bit types. Default AB or ABCD.",
      ),
    bit: z.int().min(0).max(15).optional().describe("For type bit: 0 is the least significant."),
    scale: z.number().default(1).describe("value = raw × scale + offset."),
    offset: z.number().default(0),
    invert: z.boolean().default(false).describe("For boolean fields: true when the bit is 0."),
    faultValues: z
      .array(z.int().min(0).max(0xffff_ffff))
      .default([])
      .describe(
        "Raw contents (unsigned, before sign, scale and offset; hex as in the datasheet) that mean 'sensor fault': decoded to null and counted, never a number.",
      ),
  })
  .transform((r) => ({
    ...r,
    type: r.type ?? (r.function === "coil" || r.function === "discrete" ? "bool" : "int16"),
  }));

export type RegisterMapping = z.output<typeof registerSchema>;

export const profileSchema = z
  .strictObject({
    name: z.string().min(1),
    description: z.string().default(""),
    line: z
      .strictObject({
        baudRate: z.int().positive().optional(),
        parity: z.enum(["none", "even", "odd"]).optional(),
        dataBits: z.union([z.literal(7), z.literal(8)]).optional(),
        stopBits: z.union([z.literal(1), z.literal(2)]).optional(),
      })
      .default({})
      .describe("The device's factory line settings: defaults for a bus that does not set them."),
    maxGapRegisters: z
      .int()
      .min(0)
      .max(MAX_REGISTERS_PER_REQUEST)
      .default(0)
      .describe(
        "Unmapped registers one request may read across to join two groups. 0: only adjacent registers are joined (many devices refuse reads of unmapped addresses).",
      ),
    maxRegistersPerRequest: z.int().min(1).max(MAX_REGISTERS_PER_REQUEST).default(125),
    registers: z.array(registerSchema).min(1),
  })
  .superRefine((profile, ctx) => {
    profile.registers.forEach((r, i) => {
      for (const message of mappingProblems(r)) {
        ctx.addIssue({ code: "custom", path: ["registers", i], message });
      }
    });
    for (const { index, message } of overlapProblems(profile.registers)) {
      ctx.addIssue({ code: "custom", path: ["registers", index], message });
    }
  });

export type Profile = z.output<typeof profileSchema>;

const BOOLEAN_FIELD_SET = new Set<string>(BOOLEAN_FIELDS);

/** fan_1..3 and defrost_cycle: filled by a bit, a bool, or a uint16 that is non-zero. */
export function isBooleanField(field: string): boolean {
  return BOOLEAN_FIELD_SET.has(field);
}

export function wordsOf(type: RegisterType): number {
  return type === "int32" || type === "uint32" || type === "float32" ? 2 : 1;
}

export function isBitFunction(fn: RegisterFunction): boolean {
  return fn === "coil" || fn === "discrete";
}

function mappingProblems(r: RegisterMapping): string[] {
  const problems: string[] = [];
  const bitFunction = isBitFunction(r.function);
  if (bitFunction && r.type !== "bool") {
    problems.push(`a ${r.function} is one bit: type must be bool, not ${r.type}`);
  }
  if (!bitFunction && r.type === "bool") {
    problems.push(`type bool is for coils and discrete inputs; use bit for a bit of a register`);
  }
  if (r.type === "bit" && r.bit === undefined) problems.push("type bit needs `bit` (0-15)");
  if (r.type !== "bit" && r.bit !== undefined) problems.push("`bit` is only for type bit");
  const isBoolean = isBooleanField(r.field);
  if (!isBoolean && (r.type === "bit" || r.type === "bool")) {
    problems.push(`${r.field} is a number: a ${r.type} cannot fill it`);
  }
  if (isBoolean && r.type !== "bit" && r.type !== "bool" && r.type !== "uint16") {
    problems.push(`${r.field} is a boolean: use bit, bool or uint16 (non-zero is true)`);
  }
  if (r.byteOrder !== undefined) {
    const words = wordsOf(r.type);
    if (r.type === "bit" || r.type === "bool" || r.byteOrder.length !== words * 2) {
      problems.push(`byteOrder ${r.byteOrder} does not fit type ${r.type}`);
    }
  }
  if (wordsOf(r.type) === 1 && r.faultValues.some((v) => v > 0xffff)) {
    problems.push(`faultValues of a 16-bit register must be at most 0xFFFF`);
  }
  if (r.address + wordsOf(r.type) - 1 > 0xffff) problems.push("runs past address 0xFFFF");
  return problems;
}

/**
 * Two mappings may not read the same register (a copy-paste slip in a vendor map would decode
 * one value twice, as two fields), except distinct bits of one register; a field may be filled
 * once.
 */
function overlapProblems(
  registers: readonly RegisterMapping[],
): { index: number; message: string }[] {
  const problems: { index: number; message: string }[] = [];
  const owners = new Map<string, number>();
  const fields = new Map<string, number>();
  registers.forEach((r, index) => {
    const firstOfField = fields.get(r.field);
    if (firstOfField !== undefined) {
      problems.push({
        index,
        message: `${r.field} is already mapped by registers[${firstOfField}]`,
      });
    } else fields.set(r.field, index);
    for (let word = 0; word < wordsOf(r.type); word++) {
      const address = r.address + word;
      const unit = r.type === "bit" ? `${r.function}:${address}:bit${r.bit ?? 0}` : undefined;
      const whole = `${r.function}:${address}`;
      const clash =
        owners.get(whole) ?? (unit === undefined ? owners.get(`${whole}:bits`) : owners.get(unit));
      if (clash !== undefined && clash !== index) {
        problems.push({
          index,
          message: `${r.function} register ${hex(address)} overlaps registers[${clash}]`,
        });
        continue;
      }
      if (unit === undefined) owners.set(whole, index);
      else {
        owners.set(unit, index);
        owners.set(`${whole}:bits`, index);
      }
    }
  });
  return problems;
}

export function hex(address: number): string {
  return `0x${address.toString(16).toUpperCase().padStart(4, "0")}`;
}
