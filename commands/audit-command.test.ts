import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import { afterAll, afterEach, describe, expect, it, vi } from "vitest";

import { parseVerifierKey } from "../core/audit/checkpoint.js";
import type { LoggedRecord } from "../core/audit/verify-log.js";
import { makeVoyage, type Voyage } from "../test/support/audit-voyage.js";
import { makeTempDir } from "../test/support/tmp.js";
import { run } from "./audit-command.js";

/**
 * `reefer-edge audit verify` over a lake folder as Firehose leaves it (newline-delimited JSON,
 * gzipped, in date partitions) and a folder of checkpoints: the verdict on stdout and in the
 * exit code, the way an auditor's script reads it.
 */
const work = makeTempDir("audit-cli-");
afterAll(() => work.cleanup());
afterEach(() => vi.restoreAllMocks());

let lakes = 0;

/** Writes a voyage as a lake: records in several gzipped and plain files, one note a file. */
function writeLake(voyage: Voyage, records: readonly LoggedRecord[] = voyage.records) {
  const root = join(work.dir, `lake-${++lakes}`);
  const readings = join(root, "readings");
  const checkpoints = join(root, "checkpoints");
  mkdirSync(checkpoints, { recursive: true });
  const perFile = 100;
  for (let at = 0, n = 0; at < records.length; at += perFile, n++) {
    const part = join(readings, `date=2026-11-${String(1 + (n % 28)).padStart(2, "0")}`);
    mkdirSync(part, { recursive: true });
    const text = records
      .slice(at, at + perFile)
      .map((r) => JSON.stringify(r) + "\n")
      .join("");
    if (n % 2 === 0) writeFileSync(join(part, `part-${n}.gz`), gzipSync(text));
    else writeFileSync(join(part, `part-${n}`), text);
  }
  voyage.checkpoints.forEach((note, i) => writeFileSync(join(checkpoints, `${i}.note`), note));
  const keys = join(root, "keys.txt");
  writeFileSync(keys, `# the gateways' checkpoint keys\n${voyage.vkey}\n`);
  return { readings, checkpoints, keys };
}

function verify(args: string[], action = "verify"): { code: number; out: string; err: string } {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => ((err += String(chunk)), true));
  const code = run([action, ...args]);
  vi.restoreAllMocks();
  return { code, out, err };
}

/** `audit verify` over a written lake, with more arguments. */
function verifyLake(lake: ReturnType<typeof writeLake>, ...args: string[]) {
  return verify([
    "--lake",
    lake.readings,
    "--checkpoints",
    lake.checkpoints,
    "--keys",
    lake.keys,
    ...args,
  ]);
}

const voyage = makeVoyage({
  seed: 11,
  days: 10,
  intervalMinutes: 60,
  containers: 2,
  checkpointEvery: 4,
});
const [first = "", second = ""] = voyage.containers;

describe("reefer-edge audit verify", () => {
  it("verifies a clean voyage: exit 0, each container complete and intact, its temperatures", () => {
    const lake = writeLake(voyage);
    const { code, out } = verifyLake(lake);
    expect(out).toContain(`container ${first} `);
    expect(out).toContain(`container ${second} `);
    expect(out).toContain("240 readings; complete, intact");
    expect(out).toMatch(/temperature: min -?\d+(\.\d+)? °C, max \d+(\.\d+)? °C; \d+\.\d min out/);
    expect(out).toContain("verdict: VERIFIED");
    expect(code).toBe(0);
  });

  it("reads the edge's alerts from the ledger beside the checkpoints: listed, verified, a deleted one a hole", () => {
    const withAlerts = makeVoyage({
      seed: 12,
      days: 10,
      intervalMinutes: 60,
      containers: 2,
      checkpointEvery: 4,
      alerts: true,
    });
    const isAlert = (r: LoggedRecord) => r.schema === "reefer.alert.v1";
    const alerts = withAlerts.records.filter(isAlert);
    expect(alerts.length).toBeGreaterThan(4);
    /** The lake's readings, and the ledger's alerts as newline-delimited JSON (gzipped). */
    const lakeWith = (kept: readonly LoggedRecord[]) => {
      const lake = writeLake(
        withAlerts,
        withAlerts.records.filter((r) => !isAlert(r)),
      );
      const text = kept.map((r) => JSON.stringify(r) + "\n").join("");
      writeFileSync(join(lake.checkpoints, "alerts.json.gz"), gzipSync(text));
      return lake;
    };
    const container = String(alerts[0]?.container_id);
    const clean = verifyLake(lakeWith(alerts), "--container", container);
    expect(clean.out).toMatch(/alert: \S+ temperature_excursion raised \(critical\)\n/);
    expect(clean.out).toMatch(/alert: \S+ temperature_excursion cleared \(critical\)\n/);
    expect(clean.out).not.toContain("UNVERIFIED");
    expect(clean.out).toContain("verdict: VERIFIED");
    expect(clean.code).toBe(0);
    // An alert removed from the ledger: its leaf is missing, and the container is not complete.
    const removed = alerts.find((a) => a.container_id === container);
    const gone = verifyLake(
      lakeWith(alerts.filter((a) => a !== removed)),
      "--container",
      container,
      "--json",
    );
    const report = JSON.parse(gone.out) as {
      gateways: { missing: { from: number; to: number }[] }[];
      containers: { complete: boolean; alerts: { alertId: string }[] }[];
    };
    const index = Number(removed?.log_index);
    expect(report.gateways[0]?.missing).toEqual([{ from: index, to: index + 1 }]);
    expect(report.containers[0]?.complete).toBe(false);
    expect(report.containers[0]?.alerts.map((a) => a.alertId)).not.toContain(removed?.alert_id);
    expect(gone.code).toBe(1);
  });

  it("names the missing leaves of a deleted reading, and the container's missing seq: exit 1", () => {
    const gone = voyage.records.find((r) => r.log_index === 101);
    const lake = writeLake(
      voyage,
      voyage.records.filter((r) => r.log_index !== 101),
    );
    const { code, out } = verifyLake(lake, "--json");
    const report = JSON.parse(out) as {
      verified: boolean;
      gateways: { missing: { from: number; to: number }[] }[];
      containers: { containerId: string; complete: boolean; missing: string[] }[];
    };
    expect(code).toBe(1);
    expect(report.verified).toBe(false);
    expect(report.gateways[0]?.missing).toEqual([{ from: 101, to: 102 }]);
    const hit = report.containers.find((c) => c.containerId === gone?.container_id);
    expect(hit?.complete).toBe(false);
    expect(hit?.missing).toContain(
      `${voyage.gatewayId}: seq ${String(gone?.seq)}-${String(gone?.seq)} of ${String(gone?.container_id)}`,
    );
  });

  it("finds an edited temperature, from the checkpoint before it: exit 1", () => {
    const records = voyage.records.map((r) =>
      r.log_index === 222 ? Object.freeze({ ...r, temperature: 4 }) : r,
    );
    const original = voyage.records.find((r) => r.log_index === 222);
    if (original?.temperature === 4) throw new Error("pick a leaf whose temperature is not 4");
    const lake = writeLake(voyage, records);
    const { code, out } = verifyLake(lake, "--container", String(original?.container_id));
    expect(out).toContain("ALTERED from leaf 220");
    expect(out).toContain("verdict: NOT VERIFIED");
    expect(code).toBe(1);
  });

  it("counts a reading outside the log as unverified, never as proven: exit 1", () => {
    const slipped = voyage.records.find((r) => r.log_index === 7);
    const unlogged = Object.fromEntries(
      Object.entries(slipped ?? {}).filter(([key]) => key !== "log_index"),
    );
    const lastSeq = Math.max(
      ...voyage.records
        .filter((r) => r.container_id === slipped?.container_id)
        .map((r) => Number(r.seq)),
    );
    const lake = writeLake(voyage, [
      ...voyage.records,
      Object.freeze({ ...unlogged, seq: lastSeq + 1, temperature: 4 }),
    ]);
    const { code, out } = verifyLake(lake, "--container", String(slipped?.container_id));
    expect(out).toContain("complete, intact, 1 UNVERIFIED");
    expect(out).toContain(
      `unverified: ${voyage.gatewayId}: 1 readings outside the log (no log_index)`,
    );
    expect(code).toBe(1);
  });

  it("takes a reading outside the log beside a logged one of the same seq for an alteration, whichever comes first", () => {
    const logged = voyage.records.find((r) => r.log_index === 30);
    const forged = Object.freeze({
      ...Object.fromEntries(Object.entries(logged ?? {}).filter(([key]) => key !== "log_index")),
      temperature: -30,
    });
    for (const records of [
      [forged, ...voyage.records],
      [...voyage.records, forged],
    ]) {
      const { code, out } = verifyLake(writeLake(voyage, records));
      expect(out).toContain(
        `seq ${String(logged?.seq)} of ${String(logged?.container_id)} appears outside the log too`,
      );
      expect(out).not.toContain("min -30 °C");
      expect(code).toBe(1);
    }
  });

  it("trusts nothing without the gateway's key, and says so: exit 1", () => {
    const lake = writeLake(voyage);
    const stranger = makeVoyage({
      seed: 12,
      days: 1,
      intervalMinutes: 60,
      containers: 1,
      checkpointEvery: 4,
    });
    writeFileSync(lake.keys, `${stranger.vkey}\n`);
    const { code, out } = verifyLake(lake);
    expect(out).toContain(`no checkpoint key for gateway ${voyage.gatewayId}`);
    expect(code).toBe(1);
  });

  it("reports a damaged lake line by file and line: exit 1", () => {
    const lake = writeLake(voyage);
    const file = join(lake.readings, "date=2026-11-02", "part-1");
    writeFileSync(file, readFileSync(file, "utf8").replace(/\n/, "\n{not json\n"));
    const { code, out } = verifyLake(lake);
    expect(out).toMatch(/unreadable: date=2026-11-02\/part-1:2: /);
    expect(code).toBe(1);
  });

  it("refuses bad arguments with what is wrong: exit 2", () => {
    expect(verify([]).code).toBe(2);
    const lake = writeLake(voyage);
    const base = ["--lake", lake.readings, "--checkpoints", lake.checkpoints, "--keys", lake.keys];
    expect(verify([...base, "--range", "8:2"]).err).toContain("--range 8:2: LOW:HIGH in °C");
    expect(verify([...base, "--from", "yesterday"]).err).toContain("--from yesterday: not a time");
    writeFileSync(lake.keys, "reefer-edge/gw+zz+AAAA\n");
    const badKey = verify(base);
    expect(badKey.code).toBe(2);
    expect(badKey.err).toContain("keys.txt:1: ");
  });
});

describe("audit key", () => {
  it("prints the verifier key line a thing's checkpoint_key stands for, and refuses a bad one", () => {
    const voyage = makeVoyage({
      seed: 7,
      days: 1,
      intervalMinutes: 60,
      containers: 1,
      checkpointEvery: 4,
    });
    const verifier = parseVerifierKey(voyage.vkey);
    const hex = verifier.publicKey
      .export({ format: "der", type: "spki" })
      .subarray(-32)
      .toString("hex");
    const ok = verify(["--gateway", voyage.gatewayId, "--hex", hex], "key");
    expect(ok).toMatchObject({ code: 0, out: `${voyage.vkey}\n` });
    expect(verify(["--gateway", voyage.gatewayId, "--hex", "12"], "key")).toMatchObject({
      code: 2,
    });
  });
});
