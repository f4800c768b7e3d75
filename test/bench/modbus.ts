import { createRequire } from "node:module";
import { loadProfile } from "../../drivers/modbus/profile.js";
import { planRequests, type ReadRequest } from "../../drivers/modbus/request-plan.js";
import type { ModbusRTU } from "modbus-serial/ModbusRTU.js";
import { ModbusSlaveBus } from "../hil/modbus-slave.js";
import { SerialLink } from "../hil/serial-link.js";
import type { BenchResult } from "./report.js";
import { modbusDriver } from "../hil/modbus-driver.js";

const require = createRequire(import.meta.url);

/**
 * Poll rate of the agent's Modbus RTU driver (shared bus, breaker, decoding) against a raw
 * modbus-serial read loop, both reading the XY-MD02's block from the same jsmodbus slave on the
 * same pty pair, in alternating rounds. A pty has no baud rate, so this measures the software
 * path; `wireModel` gives what a real line allows.
 */
export async function benchModbus(
  socat: string,
  dir: string,
  seconds: number,
  pairs: number,
): Promise<BenchResult[]> {
  const link = new SerialLink(socat, dir);
  await link.plug();
  const slave = new ModbusSlaveBus(link.devicePath);
  await slave.attach();
  slave.addUnit(1).setInputs(1, [0xff33, 0x021c]);
  try {
    const ours = async (interFrameDelayMs?: number) => {
      const driver = modbusDriver(
        {
          type: "modbus-rtu",
          port: link.gatewayPath,
          retries: 0,
          ...(interFrameDelayMs === undefined ? {} : { interFrameDelayMs }),
          devices: [{ unitId: 1, profile: "xy-md02" }],
        },
        dir,
      );
      await driver.open();
      const signal = new AbortController().signal;
      const rate = await pollFor(seconds, () => driver.read(signal));
      await driver.close();
      return rate;
    };
    const raw = async () => {
      const ModbusClient = require("modbus-serial") as new () => ModbusRTU;
      const client = new ModbusClient();
      await client.connectRTUBuffered(link.gatewayPath, { baudRate: 9600 });
      client.setID(1);
      client.setTimeout(500);
      const rate = await pollFor(seconds, () => client.readInputRegisters(1, 2));
      await new Promise((resolve) => {
        client.close(resolve);
      });
      return rate;
    };
    // Many short alternating rounds: this machine's speed drifts by 2x within a minute, and
    // neighbouring rounds see the same drift; medians shrug off a round that caught a stall.
    const rounds = { ours: [] as number[], raw: [] as number[] };
    for (let i = 0; i < pairs; i++) {
      rounds.raw.push(await raw());
      rounds.ours.push(await ours(0));
    }
    const spec = await ours();
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const pairwise = median(rounds.ours.map((o, i) => o / (rounds.raw[i] ?? o)));
    return [
      {
        name: "Modbus RTU polls on the pty rig (XY-MD02 block, no inter-frame delay)",
        unit: "polls/s",
        value: median(rounds.ours),
        baselineName: "raw modbus-serial loop",
        baseline: median(rounds.raw),
        target: "≥ 0.8× raw",
        targetRatio: 0.8,
        note: `medians of ${pairs} alternating rounds of ${seconds} s each, median of the pairwise ratios ${pairwise.toFixed(2)} (ours ${rounds.ours.map(Math.round).join(", ")}; raw ${rounds.raw.map(Math.round).join(", ")}); with the default spec silence (3.5 characters at 9600 baud, 5 ms) ours does ${Math.round(spec)} polls/s. A pty has no baud rate: see the wire-time model.`,
      },
    ];
  } finally {
    await slave.detach();
    await link.unplug();
  }
}

async function pollFor(seconds: number, poll: () => Promise<unknown>): Promise<number> {
  // Warm up (JIT, port open) before timing.
  for (let i = 0; i < 50; i++) await poll();
  const start = performance.now();
  let polls = 0;
  while (performance.now() - start < seconds * 1000) {
    await poll();
    polls++;
  }
  return polls / ((performance.now() - start) / 1000);
}

/**
 * What a real RS-485 line allows: per poll, each request's frame and reply at 10 bits a
 * character (8N1; 11 with parity), the 3.5-character silence before each frame, and a slave's
 * turnaround (time to answer), which datasheets rarely state: 10 ms is typical of small
 * sensors, controllers can take 50 ms.
 */
export function wireModel(turnaroundMs = 10): string {
  const lines = [
    "| profile | requests per poll | bytes out / in per poll | baud | wire + silences per poll | polls/s of one bus (turnaround " +
      `${turnaroundMs} ms) |`,
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const name of ["xy-md02", "reefer-controller-template"]) {
    const requests = planRequests(loadProfile(name, "."));
    const out = requests.length * 8;
    const inBytes = requests.reduce((sum, r) => sum + replyBytes(r), 0);
    for (const baud of [9600, 19200]) {
      const charMs = (10 * 1000) / baud;
      const silence = Math.max(1.75, 3.5 * charMs);
      const wire = (out + inBytes) * charMs + requests.length * 2 * silence;
      const poll = wire + requests.length * turnaroundMs;
      lines.push(
        `| ${name} | ${requests.length} | ${out} / ${inBytes} | ${baud} | ${wire.toFixed(1)} ms | ${(1000 / poll).toFixed(1)} |`,
      );
    }
  }
  return lines.join("\n");
}

/** Unit, function, byte count, data, CRC. */
function replyBytes(request: ReadRequest): number {
  const data = request.code <= 2 ? Math.ceil(request.count / 8) : request.count * 2;
  return 5 + data;
}
