// The tests' port helpers are the fleet's (agent/fleet/ports.ts), which starts brokers too.
export { freePort, waitForPort } from "../../agent/fleet/ports.js";
