import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { gunzipSync } from "node:zlib";

import { ALERT_SCHEMA } from "../../core/alerts.js";
import { CHECKPOINT_SCHEMA } from "../../core/audit/checkpoint.js";
import { isGapRecord } from "../../core/audit/gap.js";
import type { LoggedRecord } from "../../core/audit/verify-log.js";

/**
 * The lake as the verifier reads it: a folder (a copy of the bucket's `readings/` prefix, or the
 * tests' own) of newline-delimited JSON files as Firehose writes them, gzipped or not, and a
 * folder of checkpoints, one signed note a file, as the checkpoint rule writes them.
 */

export type LakeRecords = {
  records: LoggedRecord[];
  /** Lines that are not a JSON object, by file and line: the lake was damaged or edited. */
  unreadable: string[];
  files: number;
};

/** Every file under `dir`, depth first, in name order. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return filesUnder(path);
      return entry.isFile() ? [path] : [];
    });
}

/** A file's text: gunzipped when it starts with gzip's magic bytes (Firehose's GZIP). */
function textOf(path: string): string {
  const bytes = readFileSync(path);
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString("utf8");
}

export function readLakeRecords(dir: string): LakeRecords {
  if (!statSync(dir).isDirectory()) throw new Error(`${dir}: not a folder`);
  const records: LoggedRecord[] = [];
  const unreadable: string[] = [];
  const files = filesUnder(dir);
  for (const file of files) {
    const lines = textOf(file).split("\n");
    for (const [i, line] of lines.entries()) {
      if (line.trim() === "") continue;
      try {
        const value: unknown = JSON.parse(line);
        if (typeof value !== "object" || value === null || Array.isArray(value))
          throw new Error("not a JSON object");
        records.push(Object.freeze(value as LoggedRecord));
      } catch (error) {
        unreadable.push(`${relative(dir, file)}:${i + 1}: ${(error as Error).message}`);
      }
    }
  }
  return { records, unreadable, files: files.length };
}

/** What the audit prefix holds: checkpoint notes by origin, and leaves of the logs. */
export type AuditFolder = {
  notes: Map<string, string[]>;
  /** The gap records and the edge's alerts (reefer.alert.v1): leaves, like the readings. */
  leaves: LoggedRecord[];
  unreadable: string[];
};

/**
 * The audit prefix as the checkpoint rule writes it: newline-delimited JSON of the gateways'
 * audit messages (`reefer.checkpoint.v1` carrying a signed note, and gap records) and the edge's
 * alerts, gzipped or not; a file that is a bare signed note counts as one checkpoint.
 */
export function readAuditFolder(dir: string): AuditFolder {
  const notes = new Map<string, string[]>();
  const leaves: LoggedRecord[] = [];
  const unreadable: string[] = [];
  const addNote = (note: string) => {
    const origin = note.slice(0, Math.max(0, note.indexOf("\n")));
    const list = notes.get(origin) ?? [];
    list.push(note);
    notes.set(origin, list);
  };
  for (const file of filesUnder(dir)) {
    const text = textOf(file);
    if (!text.trimStart().startsWith("{")) {
      addNote(text);
      continue;
    }
    for (const [i, line] of text.split("\n").entries()) {
      if (line.trim() === "") continue;
      try {
        const value = JSON.parse(line) as Record<string, unknown>;
        if (value.schema === CHECKPOINT_SCHEMA && typeof value.note === "string")
          addNote(value.note);
        else if (isGapRecord(value) || value.schema === ALERT_SCHEMA)
          leaves.push(Object.freeze(value));
        else throw new Error("neither a checkpoint, a gap record nor an alert");
      } catch (error) {
        unreadable.push(`${relative(dir, file)}:${i + 1}: ${(error as Error).message}`);
      }
    }
  }
  return { notes, leaves, unreadable };
}
