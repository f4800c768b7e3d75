import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { writeFileDurably } from "../durable-file.js";

/**
 * The files through which the agent (unprivileged) and the installer (reefer-edge-update, root)
 * talk, in the agent's state directory. The agent never installs: it writes a request, and the
 * installer answers with a result. Each file is written whole, fsynced, renamed into place and
 * its folder fsynced, so a power cut leaves the old file or the new one, never a torn one.
 */
export const HANDOFF_FILES = {
  /** The job in hand and how far the agent took it. Written by the agent. */
  job: "job.json",
  /** A verified package to install. Written by the agent; taken (removed) by the installer. */
  request: "request.json",
  /** The soak's evidence: the new version's health, rewritten while the installer watches. */
  soak: "soak.json",
  /** What the installer did: kept the new version, or rolled back and why. Written by root. */
  result: "result.json",
} as const;

export const jobRecordSchema = z.object({
  jobId: z.string(),
  version: z.string(),
  /** downloading: the package is being fetched; handed-off: the request is written. */
  step: z.enum(["downloading", "handed-off"]),
});
export type JobRecord = z.output<typeof jobRecordSchema>;

export const installRequestSchema = z.object({
  jobId: z.string(),
  version: z.string(),
  /** The verified .deb, in the state directory. */
  package: z.string(),
  sha256: z.string(),
  /** The version running when the request was made: the one to go back to. */
  previousVersion: z.string(),
  size: z.int().positive(),
  /** The release key's signature: the installer checks it again, trusting no file of the agent's. */
  signature: z.string(),
  soakSeconds: z.int().positive(),
  /** The new version's resident memory past which the soak fails. */
  maxRssBytes: z.int().positive(),
  requestedAt: z.int(),
});
export type InstallRequest = z.output<typeof installRequestSchema>;

export const installResultSchema = z.object({
  jobId: z.string(),
  /**
   * kept: the new version passed its soak; rolled-back: the previous one runs again; refused:
   * the installer would not install the request (its own checks of the package failed).
   */
  outcome: z.enum(["kept", "rolled-back", "refused"]),
  /** The version installed now. */
  version: z.string(),
  reason: z.string(),
  finishedAt: z.int(),
});
export type InstallResult = z.output<typeof installResultSchema>;

export const soakReportSchema = z.object({
  jobId: z.string(),
  version: z.string(),
  pid: z.int(),
  /** Wall time of the report (ms): a report that stops coming is a hang. */
  at: z.int(),
  healthy: z.boolean(),
  reason: z.string().nullable(),
  /** Readings committed to the outbox since the process started. */
  captured: z.int(),
  /** Readings and alerts the broker acknowledged since the process started. */
  delivered: z.int(),
  /** Connected to the broker now, and what the outbox holds: delivering, or stalled. */
  connected: z.boolean(),
  backlog: z.int(),
  /** The agent's resident memory, bytes. */
  rssBytes: z.int(),
});
export type SoakReport = z.output<typeof soakReportSchema>;

/** Written whole, synced, renamed into place, the folder synced; readable by its owner only. */
export function writeDurably(file: string, body: unknown): void {
  writeFileDurably(file, `${JSON.stringify(body)}\n`);
}

/** The file's content if it is there and well-formed; null if absent; throws naming a bad one. */
export function readHandoff<T>(file: string, schema: z.ZodType<T>): T | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file}: not JSON`);
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    throw new Error(
      `${file}: ${result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return result.data;
}

export function removeHandoff(file: string): void {
  rmSync(file, { force: true });
}

export function handoffPath(stateDir: string, name: keyof typeof HANDOFF_FILES): string {
  return join(stateDir, HANDOFF_FILES[name]);
}
