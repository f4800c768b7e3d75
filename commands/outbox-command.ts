import { parseArgs } from "node:util";
import { loadConfigFile } from "../config/load.js";
import {
  checkMigration,
  describeMigration,
  describeMigrationCheck,
  migrateOutbox,
  OutboxMigrationError,
} from "../agent/outbox/migrate-command.js";
import { EXIT_USAGE, reportStartupError } from "./command.js";

/**
 * `outbox migrate`: brings an outbox's schema up to this version's. With --check it changes
 * nothing and exits 1 when a migration is pending (as `git diff --exit-code` does), 0 when not.
 */
export function run(args: string[]): number {
  const [action, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      path: { type: "string" },
      config: { type: "string", short: "c" },
      check: { type: "boolean", default: false },
    },
  });
  if (action !== "migrate" || (values.path === undefined) === (values.config === undefined)) {
    process.stderr.write(
      "usage: reefer-edge outbox migrate [--check] (--path DB | --config FILE)\n",
    );
    return EXIT_USAGE;
  }
  try {
    const path = values.path ?? loadConfigFile(values.config ?? "", process.env).buffer.path;
    if (values.check) {
      const check = checkMigration(path);
      process.stdout.write(describeMigrationCheck(check) + "\n");
      return check.pending ? 1 : 0;
    }
    process.stdout.write(describeMigration(migrateOutbox(path)) + "\n");
    return 0;
  } catch (error) {
    if (!(error instanceof OutboxMigrationError)) return reportStartupError(error);
    process.stderr.write(`${error.message}\n`);
    return 1;
  }
}
