import pino, { type DestinationStream, type Logger } from "pino";

export interface LoggerOptions {
  readonly level: string;
  readonly pretty: "auto" | "always" | "never";
}

/**
 * Paths pino blanks out whatever a caller logs. Key material is never put into log objects in
 * the first place; this is the second line of defence against a config or error object that
 * carries it.
 */
export const REDACTED_PATHS = [
  "key",
  "*.key",
  "*.*.key",
  "privateKey",
  "*.privateKey",
  "password",
  "*.password",
  "*.*.password",
  "token",
  "*.token",
];

/**
 * The agent's root logger: JSON lines (for journald and log shippers), pretty on a terminal.
 * Components take `logger.child({ component })`.
 */
export function createLogger(options: LoggerOptions, destination?: DestinationStream): Logger {
  const base = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    base: { pid: process.pid },
  };
  if (destination) return pino(base, destination);
  const pretty = options.pretty === "always" || (options.pretty === "auto" && process.stdout.isTTY);
  if (pretty) {
    return pino({
      ...base,
      transport: { target: "pino-pretty", options: { colorize: true, ignore: "pid,hostname" } },
    });
  }
  return pino(base);
}
