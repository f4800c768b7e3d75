// The tests' fault proxy is the one the fleet simulator ships (agent/fleet/link-proxy.ts).
export { LinkProxy as FaultProxy, type LinkFault } from "../../agent/fleet/link-proxy.js";
