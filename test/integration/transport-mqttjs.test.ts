import { describe } from "vitest";
import { requireTool } from "../support/tools.js";
import { transportContract } from "./transport.contract.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");

describe.skipIf(mosquitto.skip)("transport contract: MQTT.js", () => {
  transportContract(mosquitto.path ?? "", "mqttjs");
});
