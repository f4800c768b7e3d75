import { parseArgs } from "node:util";
import { EXIT_USAGE } from "./command.js";
import { formatReport, runDoctor } from "./doctor/doctor.js";

/** `doctor`: the on-site checks, each with a verdict and a fix; exits 0 when all pass. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: "string", short: "c" }, json: { type: "boolean", default: false } },
  });
  const file = values.config ?? process.env.REEFER_EDGE_CONFIG;
  if (!file) {
    process.stderr.write("doctor: name the config with --config FILE\n");
    return EXIT_USAGE;
  }
  const report = await runDoctor(file, { env: process.env, timeoutMs: 5000 });
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + "\n" : formatReport(report));
  return report.ok ? 0 : 1;
}
