import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { afterAll, describe, expect, it } from "vitest";

import { exportCommand, voyageEvents } from "../../commands/audit/epcis-export.js";
import { epcisDocument, epcisEventOf, type EpcisEvent } from "../../core/audit/epcis.js";
import type { LoggedRecord } from "../../core/audit/verify-log.js";
import { makeReading } from "../support/readings.js";
import { makeTempDir } from "../support/tmp.js";
import { requirePythonModule } from "../support/tools.js";

// GS1's reference implementation of the EPCIS event hash, in Python: the independent check.
const hasher = requirePythonModule("epcis_event_hash_generator", "the EPCIS export's cross-check");
const temp = makeTempDir("reefer-edge-epcis-");
afterAll(() => temp.cleanup());

/** The event hashes GS1's epcis-event-hash-generator computes for a document, in event order. */
function referenceHashes(events: readonly EpcisEvent[], name: string): string[] {
  const file = join(temp.dir, `${name}.jsonld`);
  writeFileSync(file, JSON.stringify(epcisDocument(events, new Date(Date.UTC(2026, 11, 5)))));
  const run = spawnSync("python3", ["-m", "epcis_event_hash_generator", file], {
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`epcis-event-hash-generator: ${run.stderr}`);
  return run.stdout.split("\n").filter((line) => line.startsWith("ni:///"));
}

/** Readings with the values a reefer gives, and the ones that are hard to write the same way twice. */
function randomReadings(seed: number, n: number): LoggedRecord[] {
  const rng = xoroshiro128plus(seed);
  const int = (lo: number, hi: number) => uniformInt(rng, lo, hi);
  const hard = [0, -0.5, 1e-5, -0.000123, 12345678.5, 0.1 + 0.2, 1e15 + 0.5, 100, -40.25];
  const value = (): number | null => {
    const pick = int(0, 9);
    if (pick === 0) return null;
    if (pick === 1) return hard[int(0, hard.length - 1)] ?? 0;
    return int(-40000, 40000) / 10 ** int(0, 4);
  };
  return Array.from({ length: n }, (_, i) => ({
    ...makeReading(`MSKU${1000000 + int(0, 2)}`, Date.UTC(2026, 10, 1) + i * 60_000 + int(0, 999), {
      temperature: value(),
      target_temperature: value(),
      ambient_temperature: value(),
      humidity_level: value(),
      kilowatts: value(),
      oxygen_level: value(),
      carbon_dioxide_level: value(),
      nitrogen_level: value(),
      time_door_open: value(),
      latitude: value(),
      longitude: value(),
      fan_1: int(0, 1) === 1,
      defrost_cycle: int(0, 2) === 0 ? null : int(0, 1) === 1,
      clock: int(0, 9) === 0 ? "unsynced" : "synced",
    }),
    seq: i + 1,
    log_id: ["0a1b2c3d", "00001e10", "12345678"][int(0, 2)] ?? "",
    log_index: i,
    ...(int(0, 9) === 0 && { clock_correction_ms: int(-100_000, 100_000) }),
  }));
}

describe.skipIf(hasher.skip)("the voyage's export as EPCIS 2.0 sensor events", () => {
  it("gives each event the eventID that GS1's reference event hash gives it", () => {
    const events = randomReadings(7, 400).map((r) => epcisEventOf(r));
    const ids = events.map((e) => e.eventID);
    expect(new Set(ids).size).toBe(events.length);
    expect(referenceHashes(events, "random")).toEqual(ids);
  });

  it("makes the same id from the same reading, and another from a reading changed", () => {
    const [reading] = randomReadings(8, 1);
    if (!reading) throw new Error("no reading");
    const once = epcisEventOf(reading).eventID;
    expect(epcisEventOf(structuredClone(reading)).eventID).toBe(once);
    expect(epcisEventOf({ ...reading, temperature: 9.9 }).eventID).not.toBe(once);
    expect(epcisEventOf({ ...reading, seq: 99 }).eventID).not.toBe(once);
  });

  it("exports a container's voyage from the lake: once each, in time order, the logged copy", () => {
    const readings: LoggedRecord[] = randomReadings(9, 60).map((r) => ({
      ...r,
      container_id: "MSKU7000001",
    }));
    const lake = join(temp.dir, "lake");
    mkdirSync(join(lake, "2026", "11"), { recursive: true });
    const unlogged = (r: LoggedRecord) =>
      Object.fromEntries(Object.entries(r).filter(([k]) => k !== "log_id" && k !== "log_index"));
    const lines = [
      ...readings.slice(30),
      ...readings.slice(0, 30),
      ...readings.slice(10, 20), // delivered twice
      unlogged(readings[40] as LoggedRecord), // a copy from memory beside the logged one
      { ...makeReading("MSKU9999999"), seq: 1 }, // another container
      { schema: "reefer.gap.v2", gateway_id: "gw-test", reason: "evicted" },
    ];
    writeFileSync(
      join(lake, "2026", "11", "part-0"),
      lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
    );
    const out = join(temp.dir, "voyage.jsonld");
    expect(exportCommand(["--lake", lake, "--container", "MSKU7000001", "--out", out])).toBe(0);
    const document = JSON.parse(readFileSync(out, "utf8")) as {
      "@context": unknown[];
      epcisBody: { eventList: EpcisEvent[] };
    };
    const events = document.epcisBody.eventList;
    expect(events.map((e) => e["reefer:seq"])).toEqual(readings.map((r) => r.seq));
    expect(events.every((e) => typeof e["reefer:logIndex"] === "number")).toBe(true);
    expect(events[0]).toMatchObject({
      type: "ObjectEvent",
      action: "OBSERVE",
      bizStep: "sensor_reporting",
      epcList: ["urn:reefer-edge:container:MSKU7000001"],
      readPoint: { id: "urn:reefer-edge:gateway:gw-test" },
    });
    expect(referenceHashes(events, "voyage")).toEqual(events.map((e) => e.eventID));
    // A window, and the same events from the library call.
    const from = new Date(Date.UTC(2026, 10, 1, 0, 10));
    const to = new Date(Date.UTC(2026, 10, 1, 0, 20));
    expect(voyageEvents(readings, ["MSKU7000001"], { from, to }).length).toBe(10);
  });

  it("refuses a call without a lake or a container, naming what is missing", () => {
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string) => stderr.push(chunk) > 0;
    try {
      expect(exportCommand(["--lake", temp.dir])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(stderr.join("")).toMatch(/--lake and at least one --container are needed/);
  });
});
