// The tests' fault proxy is the one the fleet simulator ships (fleet/link-proxy.ts).
export { LinkProxy as FaultProxy, type LinkFault } from "../../fleet/link-proxy.js";
