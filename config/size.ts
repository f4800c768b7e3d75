import { z } from "zod";

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i;

/** Parses "256MiB", "64 KB", "1.5GiB" or a plain byte count; null when it is not a size. */
export function parseSize(text: string): number | null {
  const match = SIZE.exec(text);
  if (!match) return null;
  const unit = UNITS[(match[2] ?? "b").toLowerCase()];
  if (unit === undefined) return null;
  return Math.floor(Number(match[1]) * unit);
}

/** A size in config: a byte count or a string such as "256MiB". */
export const byteSize = z
  .union([z.int().positive(), z.string()], {
    error: 'expected a byte count or a size like "256MiB"',
  })
  .transform((value, ctx) => {
    if (typeof value === "number") return value;
    const bytes = parseSize(value);
    if (bytes === null || bytes <= 0) {
      ctx.addIssue({ code: "custom", message: `expected a size like "256MiB", got "${value}"` });
      return z.NEVER;
    }
    return bytes;
  })
  .describe('A size: a byte count or a string such as "256MiB", "64KB", "1GiB".');
