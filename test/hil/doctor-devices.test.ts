import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDoctor } from "../../commands/doctor/doctor.js";
import { freePort } from "../support/ports.js";
import { Rig, requireSocat } from "./rig.js";

// Needs socat for the pty RS-485 line: a missing one skips with the reason printed, and fails
// under CI (test/support/tools.ts), where .ci/run installs it.
const socat = requireSocat();

describe.skipIf(socat.skip)("doctor on the RS-485 rig", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await Rig.start(socat.path ?? "socat");
  });
  afterAll(async () => {
    await rig.stop();
  });

  it("reads each Modbus device once: the live one's values, the silent one's class and fix", async () => {
    rig.slave.addUnit(1).setInputs(1, [215, 450]);
    rig.slave.addUnit(2).dead = true;
    const file = join(rig.folder, "doctor.yaml");
    const device = (id: string, unit: number) =>
      `  - { id: ${id}, product: P01, driver: { type: modbus-rtu, port: "${rig.link.gatewayPath}", timeoutMs: 200, retries: 0, devices: [{ unitId: ${unit}, profile: xy-md02 }] } }`;
    writeFileSync(
      file,
      `version: 1
gateway: { id: gw-doc }
mqtt: { url: "mqtt://127.0.0.1:${await freePort()}" }
buffer: { path: "${join(rig.folder, "doctor-outbox.db")}" }
containers:
${device("LIVE1", 1)}
${device("DEAD2", 2)}
`,
    );
    const report = await runDoctor(file, { env: {}, timeoutMs: 3000 });
    const verdict = (check: string) => report.verdicts.find((v) => v.check === check);
    expect(verdict("read LIVE1")).toMatchObject({
      status: "pass",
      detail: "temperature 21.5, humidity_level 45",
    });
    expect(verdict("read DEAD2")).toMatchObject({
      status: "fail",
      detail: expect.stringContaining(
        `${rig.link.gatewayPath} unit 2 did not answer (timeout)`,
      ) as unknown,
      fix: expect.stringContaining("A and B swapped") as unknown,
    });
    // A pty is no by-id name: the doctor says why that matters.
    expect(verdict(`port ${rig.link.gatewayPath}`)?.status).toBe("pass");
    expect(
      report.verdicts.some(
        (v) => v.check === `port ${rig.link.gatewayPath}` && v.status === "warn",
      ),
    ).toBe(true);
  }, 30_000);
});
