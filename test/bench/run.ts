import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MONITOR, MosquittoBroker } from "../support/mosquitto.js";
import { makePki } from "../support/pki.js";
import { makeTempDir } from "../support/tmp.js";
import { findTool } from "../support/tools.js";
import { benchAgentCapture } from "./agent-capture.js";
import { benchAudit } from "./audit.js";
import { benchBackfill } from "./backfill.js";
import { benchDrain } from "./drain.js";
import { benchIngest } from "./ingest.js";
import { benchLiveLane } from "./live-lane.js";
import { benchModbus, wireModel } from "./modbus.js";
import { formatResults, type BenchResult } from "./report.js";
import { benchOutageRss, benchRss } from "./rss.js";
import { benchReportByException, benchRules } from "./rules.js";
import { benchWalSync } from "./wal-sync.js";

/**
 * `npm run bench`: every figure next to a baseline measured in the same run on the same machine,
 * so the ratio means something on a shared, noisy box. `--quick` shortens the long ones.
 */
const { values } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
const quick = values.quick;
const temp = makeTempDir("reefer-edge-bench-");
const results: BenchResult[] = [];
const say = (text: string) => process.stdout.write(`${text}\n`);

try {
  say(
    `reefer-edge benchmarks (${quick ? "quick" : "full"}), node ${process.version}, ${new Date().toISOString()}`,
  );
  const ingest = benchIngest(temp.dir, quick ? 500 : 2000, 4);
  results.push(ingest);
  say(formatResults([ingest]));
  const liveLane = [
    benchLiveLane(temp.dir, 1, quick ? 2000 : 20_000),
    benchLiveLane(temp.dir, quick ? 200 : 1000, 20),
  ];
  results.push(...liveLane);
  say(formatResults(liveLane));
  const walSync = await benchWalSync(temp.dir, quick ? 200 : 1000);
  results.push(...walSync);
  say(formatResults(walSync));
  const audit = benchAudit(quick ? 3 : 30);
  results.push(...audit);
  say(formatResults(audit));
  const agentCapture = await benchAgentCapture(temp.dir, quick ? 2000 : 10_000);
  results.push(agentCapture);
  say(formatResults([agentCapture]));
  const rules = [benchRules(1000, quick ? 200 : 1000), benchReportByException()];
  results.push(...rules);
  say(formatResults(rules));

  const socat = findTool("socat");
  if (!socat) throw new Error("socat is needed for the Modbus benchmark: apt-get install socat");
  const modbus = await benchModbus(socat, temp.dir, 1, quick ? 4 : 10);
  results.push(...modbus);
  say(formatResults(modbus));
  say("\nModbus RTU wire-time model (a real line, 8N1):\n" + wireModel());

  const mosquitto = findTool("mosquitto");
  if (!mosquitto)
    throw new Error(
      "mosquitto is needed for the drain and RSS benchmarks: apt-get install mosquitto",
    );
  const brokerDir = join(temp.dir, "broker");
  mkdirSync(brokerDir);
  const pki = makePki(brokerDir, ["gw-0001", MONITOR]);
  const broker = await MosquittoBroker.start(mosquitto, brokerDir, pki);
  try {
    const drain = await benchDrain(temp.dir, quick ? 20_000 : 100_000, broker, pki);
    results.push(...drain);
    say(formatResults(drain));
    const rss = await benchRss(temp.dir, broker, pki);
    results.push(rss);
    say(formatResults([rss]));
    const outage = await benchOutageRss(temp.dir, broker, pki, quick ? 30 : 300);
    results.push(outage);
    say(formatResults([outage]));
    const backfill = await benchBackfill(temp.dir, quick ? 20_000 : 259_200, broker, pki);
    results.push(backfill);
    say(formatResults([backfill]));
  } finally {
    await broker.stop();
  }
  say("\nAll results:\n" + formatResults(results));
} finally {
  temp.cleanup();
}
