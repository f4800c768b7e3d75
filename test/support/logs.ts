import { Writable } from "node:stream";
import pino, { type Logger } from "pino";

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A real pino logger whose JSON lines are parsed into `lines`, as pino's own tests do. */
export function captureLogs(level = "debug"): {
  logger: Logger;
  lines: LogLine[];
  text: () => string;
} {
  const lines: LogLine[] = [];
  let raw = "";
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = chunk.toString();
      raw += text;
      for (const line of text.split("\n")) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      callback();
    },
  });
  return { logger: pino({ level }, stream), lines, text: () => raw };
}
