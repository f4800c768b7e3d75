import type { Logger } from "pino";
import type { AgentConfig } from "../config/schema.js";
import { Agent } from "../agent/agent.js";
import { reportCaptured } from "../agent/captured-report.js";

/**
 * The one start sequence of an agent, for `run` and `demo`: build it, attach the captured
 * report when asked, start it, then its HTTP listener; a listener that cannot start stops the
 * agent again (nothing left half-started) and rethrows.
 */
export async function startAgent(
  config: AgentConfig,
  options: { readonly logger: Logger; readonly capturedReport?: string | undefined },
): Promise<{ agent: Agent; address: { address: string; port: number } | null }> {
  const agent = new Agent(config, { logger: options.logger });
  if (options.capturedReport) reportCaptured(agent, options.capturedReport);
  agent.start();
  try {
    return { agent, address: await agent.listen() };
  } catch (error) {
    await agent.stop(0);
    throw error;
  }
}
