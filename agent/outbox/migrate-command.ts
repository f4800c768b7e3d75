import Database from "better-sqlite3";
import { existsSync } from "node:fs";
import { openOutboxDatabase, SCHEMA_VERSION } from "./database.js";
import { OutboxLock, OutboxLockedError } from "./outbox-lock.js";

/** What `reefer-edge outbox migrate` did to one outbox file. */
export interface MigrationResult {
  readonly path: string;
  /** The schema version found; null when there was no outbox yet (nothing to do). */
  readonly from: number | null;
  readonly to: number | null;
  /** Where a file SQLite called corrupt was moved aside, as the agent itself would at start. */
  readonly movedAside: string | null;
}

/**
 * Brings an outbox's schema up to this agent's, under the same one-agent lock as `run`: what a
 * package upgrade runs after the old agent stopped and before the new one starts, so that a
 * migration that fails stops the upgrade with the outbox untouched (each migration is one
 * transaction) instead of crash-looping the service. The agent migrates at start anyway; this
 * makes it happen, and fail, where the operator is looking.
 */
export function migrateOutbox(path: string, now: number = Date.now()): MigrationResult {
  if (!existsSync(path)) return { path, from: null, to: null, movedAside: null };
  // Asked first, so a running agent is named before anything is read; the open below takes the
  // lock itself (and refuses the same way if an agent started meanwhile).
  const holder = OutboxLock.holder(path);
  if (holder) throw holder;
  const from = schemaVersionOf(path);
  try {
    const { db, lock, recovery } = openOutboxDatabase(path, "full", now);
    lock?.release();
    db.close();
    return { path, from, to: SCHEMA_VERSION, movedAside: recovery?.movedTo ?? null };
  } catch (error) {
    if (error instanceof OutboxLockedError) throw error;
    throw new OutboxMigrationError(path, from, error);
  }
}

/** Whether `migrateOutbox` would have anything to do, asked without stopping the agent. */
export interface MigrationCheck {
  readonly path: string;
  /** The schema version found; null when there is no outbox yet or SQLite cannot read it. */
  readonly from: number | null;
  readonly to: number;
  readonly pending: boolean;
}

/**
 * Reads the outbox's schema version, read-only and without the one-agent lock, so that a package
 * upgrade can ask while the old agent still runs and captures: an upgrade whose schema is
 * unchanged then restarts the agent straight away, and its capture gap holds no migration.
 * Anything but "this file is at this agent's version" is pending, so the migration itself
 * decides: an unreadable file (moved aside), a newer one (usable or refused).
 */
export function checkMigration(path: string): MigrationCheck {
  if (!existsSync(path)) return { path, from: null, to: SCHEMA_VERSION, pending: false };
  const from = schemaVersionOf(path);
  return { path, from, to: SCHEMA_VERSION, pending: from !== SCHEMA_VERSION };
}

export function describeMigrationCheck(check: MigrationCheck): string {
  if (!check.pending) {
    return check.from === null
      ? `${check.path}: no outbox yet, nothing to migrate`
      : `${check.path}: schema ${check.to}, up to date`;
  }
  return `${check.path}: schema ${check.from ?? "unreadable"} -> ${check.to}, a migration is pending`;
}

/** A migration that failed; the migration that failed was rolled back, the file is kept. */
export class OutboxMigrationError extends Error {
  constructor(path: string, from: number | null, cause: unknown) {
    super(
      `outbox ${path}: migrating schema ${from ?? "(unreadable)"} to ${SCHEMA_VERSION} failed: ` +
        `${cause instanceof Error ? cause.message : String(cause)}. The migration that failed was rolled back; ` +
        `the agent will not start on it until this is resolved`,
      { cause },
    );
    this.name = "OutboxMigrationError";
  }
}

/** user_version of a database file, read without changing it; null when SQLite cannot read it. */
function schemaVersionOf(path: string): number | null {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return db.pragma("user_version", { simple: true }) as number;
    } finally {
      db.close();
    }
  } catch {
    return null;
  }
}

export function describeMigration(result: MigrationResult): string {
  if (result.to === null) return `${result.path}: no outbox yet, nothing to migrate`;
  const moved = result.movedAside
    ? `; the old file could not be read and was moved to ${result.movedAside}`
    : "";
  if (result.from === result.to) return `${result.path}: schema ${result.to}, up to date${moved}`;
  return `${result.path}: schema ${result.from ?? "unreadable"} -> ${result.to}${moved}`;
}
