// The tests' port helpers are the fleet's (fleet/ports.ts), which starts brokers too.
export { freePort, waitForPort } from "../../fleet/ports.js";
