// The tests' in-process broker is the one the demo ships (commands/demo/broker.ts): aedes on
// loopback, for tests of the runtime that need a broker but not Mosquitto's TLS.
export { startEmbeddedBroker, type EmbeddedBroker } from "../../commands/demo/broker.js";
