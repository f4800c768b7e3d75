import { parseArgs } from "node:util";
import { ConfigError } from "../../config/load.js";
import { provision } from "./provision.js";

/**
 * `reefer-edge provision`: its arguments, and the exit code (0 done, 1 refused or unanswered,
 * 2 usage). A config that does not say where the identity goes is thrown (a ConfigError) for
 * the CLI's own exit 78.
 */
export async function runProvision(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: "string", short: "c" },
      "claim-cert": { type: "string" },
      "claim-key": { type: "string" },
      template: { type: "string" },
      serial: { type: "string" },
      timeout: { type: "string" },
    },
  });
  const timeout = values.timeout === undefined ? 30 : Number(values.timeout);
  const serial = values.serial ?? "";
  if (
    !values.config ||
    !values["claim-cert"] ||
    !values["claim-key"] ||
    !values.template ||
    !/^[A-Za-z0-9_-]{1,64}$/.test(serial) ||
    !(timeout > 0)
  ) {
    process.stderr.write(
      "usage: reefer-edge provision --config FILE --claim-cert FILE --claim-key FILE --template NAME --serial SERIAL [--timeout SECONDS]\n",
    );
    return 2;
  }
  try {
    await provision({
      config: values.config,
      claimCert: values["claim-cert"],
      claimKey: values["claim-key"],
      template: values.template,
      serial,
      timeoutSeconds: timeout,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    process.stderr.write(`provision: ${(error as Error).message}\n`);
    return 1;
  }
}
