import { describe, expect, it } from "vitest";
import { validateConfig } from "../../config/load.js";
import { checkRemote, deepMerge } from "./remote-settings.js";

const file = validateConfig(
  {
    version: 1,
    gateway: { id: "gw" },
    mqtt: { url: "mqtt://127.0.0.1:1883" },
    sampling: { intervalMs: 10_000 },
    containers: [{ id: "C1", product: "P01", driver: { type: "simulated" } }],
    rules: { temperature: { threshold: 18 }, power: { graceSeconds: 60 } },
  },
  "file",
);

describe("checkRemote", () => {
  it("merges the remote settings over the file's and validates the result", () => {
    const result = checkRemote(
      { sampling: { intervalMs: 5000 }, rules: { temperature: { threshold: 9 } } },
      file,
    );
    if (!("config" in result)) throw new Error(JSON.stringify(result.problems));
    expect(result.config.sampling.intervalMs).toBe(5000);
    expect(result.config.rules.temperature.threshold).toBe(9);
    // The file's other rules stay as they were.
    expect(result.config.rules.power.graceSeconds).toBe(60);
    expect(result.config.mqtt.url).toBe("mqtt://127.0.0.1:1883");
  });

  it("refuses local-only and unknown settings, each at its path, and applies nothing", () => {
    expect(
      checkRemote(
        {
          gateway: { id: "evil" },
          buffer: { path: "/tmp/x" },
          colour: "red",
          sampling: { jitter: 1 },
        },
        file,
      ),
    ).toEqual({
      problems: [
        {
          path: "gateway",
          message: "a local-only setting: only the gateway's own config file sets it",
        },
        {
          path: "buffer",
          message: "a local-only setting: only the gateway's own config file sets it",
        },
        { path: "colour", message: "not a setting the shadow may change" },
        { path: "sampling.jitter", message: "not a setting the shadow may change" },
      ],
    });
  });

  it("refuses wrong types and values with the schema's own paths and reasons", () => {
    const result = checkRemote(
      { sampling: { intervalMs: 5 }, rules: { temperature: { threshold: "hot" } } },
      file,
    );
    expect("problems" in result && result.problems.map((p) => p.path)).toEqual([
      "sampling.intervalMs",
      "rules.temperature.threshold",
    ]);
    expect(checkRemote([1, 2], file)).toEqual({
      problems: [{ path: "", message: "expected an object" }],
    });
    expect(checkRemote({ rules: 3 }, file)).toMatchObject({ problems: [{ path: "rules" }] });
  });
});

describe("deepMerge", () => {
  it("merges objects, replaces the rest, and skips nulls", () => {
    expect(deepMerge({ a: { b: 1, c: 2 }, d: [1] }, { a: { b: 3 }, d: [2], e: null })).toEqual({
      a: { b: 3, c: 2 },
      d: [2],
    });
  });
});
