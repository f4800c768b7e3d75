import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../../agent/agent.js";
import type { AlertRecord, DeviceAlert } from "../../core/alerts.js";
import { validateConfig } from "../../config/load.js";
import { captureLogs } from "../support/logs.js";
import { freePort } from "../support/ports.js";
import { Rig, requireSocat } from "./rig.js";
import type { Fault } from "./modbus-slave.js";
import { waitFor } from "../support/wait-for.js";

// Needs socat for the pty RS-485 line: a missing one skips with the reason printed, and fails
// under CI (test/support/tools.ts), where .ci/run installs it.
const socat = requireSocat();
// Wide margins on purpose, for a CI machine whose other process takes a core: the noisy line's
// clean answer comes about every 1.8 s against a 4 s alert time, and a reply has 250 ms to come
// (the read as a whole 400 ms). With 100 ms, a busy machine delivered a clean reply late, three
// reads failed in a row, and the alert was raised in the noisy stretch: CI, twice.
const AFTER_SECONDS = 4;
const INTERVAL_MS = 600;
const READ_TIMEOUT_MS = 400;
const REPLY_TIMEOUT_MS = 250;
const NOISY_PATTERNS = 12;

/**
 * A controller that stops answering raises a critical device_unreachable alert: the real agent
 * (sampler, capture stage, outbox) reads a jsmodbus slave over the pty line. No broker: the
 * alerts are captured all the same, which is the point at sea.
 */
describe.skipIf(socat.skip)("device_unreachable on the RS-485 rig", () => {
  let rig: Rig;
  let agent: Agent;
  const alerts: AlertRecord[] = [];
  let readings = 0;

  beforeAll(async () => {
    rig = await Rig.start(socat.path ?? "socat");
    rig.slave.addUnit(7).setInputs(1, [55, 480]);
    const dir = rig.folder;
    const config = validateConfig(
      {
        version: 1,
        gateway: { id: "gw-hil" },
        // Nothing listens there: the agent captures and keeps everything in its outbox.
        mqtt: { url: `mqtt://127.0.0.1:${await freePort()}` },
        buffer: { path: join(dir, "outbox.db") },
        sampling: { intervalMs: INTERVAL_MS, timeoutMs: READ_TIMEOUT_MS },
        rules: { deviceUnreachable: { afterSeconds: AFTER_SECONDS } },
        containers: [
          {
            id: "DEVICE7",
            product: "P01",
            driver: {
              type: "modbus-rtu",
              port: rig.link.gatewayPath,
              timeoutMs: REPLY_TIMEOUT_MS,
              retries: 0,
              breaker: {
                failuresToOpen: 3,
                probeAfterMs: INTERVAL_MS,
                maxProbeAfterMs: INTERVAL_MS,
              },
              devices: [{ unitId: 7, profile: "xy-md02" }],
            },
          },
        ],
      },
      "hil test",
    );
    agent = new Agent(config, { logger: captureLogs("fatal").logger });
    agent.events.on("alert", (batch) => alerts.push(...batch));
    agent.events.on("captured", (batch) => (readings += batch.length));
    agent.start();
  });
  afterAll(async () => {
    await agent.stop(100);
    await rig.stop();
  });

  const unreachable = () =>
    alerts.filter((a): a is DeviceAlert => a.alert_type === "device_unreachable");
  const until = (what: string, done: () => boolean, timeoutMs = 20_000) =>
    waitFor(what, done, timeoutMs);
  const crcErrors = () =>
    agent.metrics.get("modbus_errors", { bus: rig.link.gatewayPath, unit: "7", class: "crc" });

  it("a silent slave raises it, not before the configured time, naming the device and the class", async () => {
    await until("readings", () => readings >= 3);
    const unit = rig.slave.unit(7);
    unit.dead = true;
    const silentFrom = Date.now();
    await until("the raise", () => unreachable().length > 0);
    const raised = unreachable()[0];
    expect(raised).toMatchObject({
      state: "raised",
      severity: "critical",
      container_id: "DEVICE7",
      devices: [`${rig.link.gatewayPath} unit 7`],
      error_class: "timeout",
    });
    // Not before the configured time since the last good read (wall clock of the record).
    if (!raised) throw new Error("no alert");
    expect(Date.parse(raised.alert_time) - Date.parse(raised.since)).toBeGreaterThanOrEqual(
      AFTER_SECONDS * 1000,
    );
    // The raise came in the silence, not from an earlier hiccup.
    expect(Date.parse(raised.alert_time)).toBeGreaterThanOrEqual(silentFrom - INTERVAL_MS);
    expect(agent.metrics.get("alerts", { type: "device_unreachable", state: "raised" })).toBe(1);
  }, 30_000);

  it("its return clears it on the first good read", async () => {
    rig.slave.unit(7).dead = false;
    await until("the clearing", () => unreachable().some((a) => a.state === "cleared"));
    const cleared = unreachable().find((a) => a.state === "cleared");
    expect(cleared).toMatchObject({ state: "cleared", error_class: "timeout" });
    expect(cleared?.first_seq).toBe(unreachable()[0]?.first_seq);
  }, 30_000);

  it("a noisy line that still gets one read in three through raises nothing", async () => {
    // What is asserted is the rule against what the line did: no raise while a good read came
    // within the alert's time. Whether one did is the machine's to decide: a clean answer
    // delivered past its 250 ms (another process on the core) counts as a failed read, and
    // two such in a row leave a gap past 4 s in which a raise is right (CI saw one, once). So
    // each stretch's longest gap between good reads is measured, and a stretch with a gap past
    // the alert's time is played again, up to three times.
    const unit = rig.slave.unit(7);
    const crcBefore = crcErrors();
    const errorsBefore = agent.metrics.total("modbus_errors");
    const stretches: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = unreachable().length;
      const startReadings = readings;
      const goodReads: number[] = [];
      const onCaptured = () => goodReads.push(Date.now());
      agent.events.on("captured", onCaptured);
      // Two bad CRCs, then a clean answer, over and over, for well past the alert's time.
      const pattern: Fault[] = [
        { kind: "corrupt-crc" },
        { kind: "corrupt-crc" },
        { kind: "slow", ms: 0 },
      ];
      const noiseFrom = Date.now();
      for (let i = 0; i < NOISY_PATTERNS; i++) unit.faults.push(...pattern);
      await until("the noisy stretch to pass", () => unit.faults.length === 0, 60_000);
      // The stretch's last clean answer may still be on its way to the outbox: wait for it.
      await until(
        "the stretch's clean reads",
        () => readings - startReadings >= NOISY_PATTERNS || Date.now() - noiseFrom > 60_000,
        70_000,
      );
      agent.events.off("captured", onCaptured);
      const noisyMs = Date.now() - noiseFrom;
      expect(noisyMs).toBeGreaterThan(AFTER_SECONDS * 1000 * 2);
      let longestGap = 0;
      let last = noiseFrom;
      for (const at of goodReads) {
        longestGap = Math.max(longestGap, at - last);
        last = at;
      }
      const raised = unreachable().length - before;
      stretches.push(`gap ${longestGap} ms, ${raised} alert records`);
      console.log(`noisy stretch: ${goodReads.length} good reads, ${stretches.at(-1)}`);
      // Half a second of margin: the engine times reads, the test their captures.
      if (longestGap < AFTER_SECONDS * 1000 - 500) {
        expect(raised, stretches.join("; ")).toBe(0);
        // Each corrupt reply failed its request: as a CRC error, or as a timeout when a busy
        // machine delivered it after the read's deadline (seen in CI: 14 crc, 2 late).
        expect(agent.metrics.total("modbus_errors") - errorsBefore).toBeGreaterThanOrEqual(
          2 * NOISY_PATTERNS,
        );
        expect(crcErrors() - crcBefore).toBeGreaterThan(0);
        return;
      }
      // A gap past the alert's time: a raise was right, and it must clear on the next good read.
      await until("a raise in the gap to clear", () => {
        const records = unreachable();
        return records.length === before || records.at(-1)?.state === "cleared";
      });
    }
    throw new Error(
      `three noisy stretches each had a gap between good reads past ${AFTER_SECONDS} s (${stretches.join("; ")}): the machine was too busy to test the rule`,
    );
  }, 240_000);
});
