import { runFleet } from "../fleet/fleet-command.js";
import { reportStartupError, untilSignal } from "./command.js";

/** `fleet`: the fleet simulator, until its run ends or a signal stops it. */
export async function run(args: string[]): Promise<number> {
  try {
    return await runFleet(args, untilSignal());
  } catch (error) {
    return reportStartupError(error);
  }
}
