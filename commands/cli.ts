#!/usr/bin/env node
import { COMMANDS, usage } from "./command-table.js";

/** The `reefer-edge` command: looks the command up in the table and runs it. */
async function main(argv: string[]): Promise<number> {
  const [name = "help", ...rest] = argv;
  if (name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(usage() + "\n");
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(`Usage:\n  reefer-edge ${command.usage}\n`);
    return 0;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (error) {
    // An option the command does not take, or one without its value: a usage error, said as one
    // (node's parseArgs throws a TypeError whose stack would bury the message).
    if (!isArgumentError(error)) throw error;
    process.stderr.write(
      `reefer-edge ${name}: ${error.message}\n\nUsage:\n  reefer-edge ${command.usage}\n`,
    );
    return 2;
  }
}

function isArgumentError(error: unknown): error is Error {
  return (
    error instanceof Error &&
    "code" in error &&
    typeof error.code === "string" &&
    error.code.startsWith("ERR_PARSE_ARGS_")
  );
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `reefer-edge: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
