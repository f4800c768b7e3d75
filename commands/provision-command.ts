import { reportStartupError } from "./command.js";
import { runProvision } from "./provision/provision-command.js";

/** `provision`: fleet provisioning by claim. */
export async function run(args: string[]): Promise<number> {
  try {
    return await runProvision(args);
  } catch (error) {
    return reportStartupError(error);
  }
}
