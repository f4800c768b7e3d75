import { arch } from "node:process";
import { describe } from "vitest";
import { crtAvailable } from "../../agent/publisher/crt-client.js";
import { inCi, requireTool } from "../support/tools.js";
import { transportContract } from "./transport.contract.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
/** The CRT has native binaries for x64 and arm64; in CI (x64) it must load. */
const crt = crtAvailable();
if (!crt && inCi() && (arch === "x64" || arch === "arm64")) {
  throw new Error("aws-iot-device-sdk-v2 must load in CI on x64: npm ci installs it (optional)");
}
if (!crt)
  console.warn(
    `SKIPPED: aws-iot-device-sdk-v2 cannot load on ${arch}; the CRT transport does not run`,
  );

describe.skipIf(mosquitto.skip || !crt)("transport contract: aws-crt", () => {
  transportContract(mosquitto.path ?? "", "aws-crt");
});
