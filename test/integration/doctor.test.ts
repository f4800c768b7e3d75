import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DoctorReport } from "../../commands/doctor/doctor.js";
import { useMosquitto } from "../support/broker-fixture.js";
import { runCli } from "../support/cli.js";
import { freePort } from "../support/ports.js";
import { requireTool } from "../support/tools.js";

// Needs real peers; a missing one skips with the reason printed, and fails under CI (tools.ts).
const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");

describe.skipIf(mosquitto.skip)("reefer-edge doctor", () => {
  const env = useMosquitto(mosquitto.path ?? "", ["gw-doc", "gw-other"]);

  /** A config of gw-doc against the test broker, with `change` applied to its YAML parts. */
  function config(change: Partial<Record<"mqtt" | "container" | "clock", string>> = {}): string {
    const { cert, key } = env.pki.client("gw-doc");
    const dir = mkdtempSync(join(env.temp.dir, "doctor-"));
    const file = join(dir, "agent.yaml");
    writeFileSync(
      file,
      `version: 1
gateway: { id: gw-doc }
mqtt: ${change.mqtt ?? `{ url: "${env.broker.url}", ca: "${env.pki.caCert}", cert: "${cert}", key: "${key}" }`}
buffer: { path: "${join(dir, "outbox.db")}", maxBytes: 1MiB }
containers:
  - ${change.container ?? "{ id: C1, product: P01, driver: { type: simulated } }"}
${change.clock ?? ""}
`,
    );
    return file;
  }

  async function doctor(
    file: string,
  ): Promise<{ code: number | string; report: DoctorReport; text: string }> {
    const text = await runCli(["doctor", "--config", file]);
    const json = await runCli(["doctor", "--config", file, "--json"]);
    return { code: text.code, report: JSON.parse(json.stdout) as DoctorReport, text: text.stdout };
  }

  const verdict = (report: DoctorReport, check: string) =>
    report.verdicts.find((v) => v.check === check);

  it("passes a working gateway, through the TLS handshake and an MQTT CONNECT", async () => {
    const { code, report, text } = await doctor(config());
    expect(
      report.verdicts.filter((v) => v.status === "fail"),
      text,
    ).toEqual([]);
    expect(code).toBe(0);
    expect(verdict(report, "key matches certificate")?.status).toBe("pass");
    expect(verdict(report, "TLS handshake")?.status).toBe("pass");
    expect(verdict(report, "MQTT CONNECT")).toMatchObject({
      status: "pass",
      detail: "accepted as gw-doc",
    });
    expect(text).toContain("all checks passed");
  });

  it("names a wrong CA, a certificate the broker does not trust, and a key of another pair", async () => {
    const wrongCa = await doctor(
      config({
        mqtt: `{ url: "${env.broker.url}", ca: "${join(env.temp.dir, "rogue-ca.pem")}", cert: "${env.pki.client("gw-doc").cert}", key: "${env.pki.client("gw-doc").key}" }`,
      }),
    );
    expect(wrongCa.code).toBe(1);
    expect(verdict(wrongCa.report, "TLS handshake")).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/cannot verify the broker's certificate/) as unknown,
    });
    const untrusted = await doctor(
      config({
        mqtt: `{ url: "${env.broker.url}", ca: "${env.pki.caCert}", cert: "${env.pki.untrusted.cert}", key: "${env.pki.untrusted.key}" }`,
      }),
    );
    expect(verdict(untrusted.report, "TLS handshake")).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/unknown CA/) as unknown,
    });
    const mismatched = await doctor(
      config({
        mqtt: `{ url: "${env.broker.url}", ca: "${env.pki.caCert}", cert: "${env.pki.client("gw-doc").cert}", key: "${env.pki.client("gw-other").key}" }`,
      }),
    );
    expect(mismatched.code).toBe(1);
    expect(verdict(mismatched.report, "key matches certificate")?.status).toBe("fail");
    expect(verdict(mismatched.report, "TLS handshake")?.status).toBe("skip");
  });

  it("refuses a private key other users can read, saying how to fix it", async () => {
    const key = join(mkdtempSync(join(env.temp.dir, "key-")), "gw.key");
    copyFileSync(env.pki.client("gw-doc").key, key);
    chmodSync(key, 0o644);
    const { code, report } = await doctor(
      config({
        mqtt: `{ url: "${env.broker.url}", ca: "${env.pki.caCert}", cert: "${env.pki.client("gw-doc").cert}", key: "${key}" }`,
      }),
    );
    expect(code).toBe(1);
    expect(verdict(report, "private key permissions")).toMatchObject({
      status: "fail",
      fix: `chmod 600 ${key}`,
    });
  });

  it("says a configured serial port is missing, and which command lists the real ones", async () => {
    const port = "/dev/serial/by-id/usb-not-plugged-in-if00-port0";
    const { code, report } = await doctor(
      config({
        container: `{ id: M1, product: P01, driver: { type: modbus-rtu, port: "${port}", devices: [{ unitId: 1, profile: xy-md02 }] } }`,
      }),
    );
    expect(code).toBe(1);
    expect(verdict(report, `port ${port}`)).toMatchObject({
      status: "fail",
      detail: "not present",
      fix: expect.stringContaining("reefer-edge ports") as unknown,
    });
  });

  it("fails a clock that systemd-timesyncd has not synchronized when the config trusts only that", async () => {
    const { code, report } = await doctor(
      config({
        clock: 'clock: { trust: timesyncd, timesyncdFlag: "/run/no-such-flag-for-this-test" }',
      }),
    );
    expect(code).toBe(1);
    expect(verdict(report, "clock sync")).toMatchObject({
      status: "fail",
      fix: expect.stringContaining("timedatectl") as unknown,
    });
  });

  it("says where the way to an unreachable broker breaks", async () => {
    const port = await freePort();
    const { code, report } = await doctor(
      config({
        mqtt: `{ url: "mqtts://127.0.0.1:${port}", ca: "${env.pki.caCert}", cert: "${env.pki.client("gw-doc").cert}", key: "${env.pki.client("gw-doc").key}" }`,
      }),
    );
    expect(code).toBe(1);
    expect(verdict(report, "TCP")).toMatchObject({
      status: "fail",
      detail: `127.0.0.1:${port}: connection refused: nothing listens there`,
    });
    expect(verdict(report, "TLS handshake")).toBeUndefined();
  });

  it("reports an invalid config with its paths, and stops there", async () => {
    const file = join(mkdtempSync(join(env.temp.dir, "bad-")), "agent.yaml");
    writeFileSync(
      file,
      "version: 1\ngateway: { id: gw-doc }\nmqtt: { url: 'mqtt://127.0.0.1:1' }\ncontainers: []\n",
    );
    const { code, report } = await doctor(file);
    expect(code).toBe(1);
    expect(report.verdicts).toHaveLength(1);
    expect(report.verdicts[0]).toMatchObject({ check: "config", status: "fail" });
    expect(report.verdicts[0]?.detail).toContain("containers");
  });
});
