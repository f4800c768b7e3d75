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
          log: { pretty: true },
          containers: [{ id: "C9" }, { id: "C1", driver: { type: "modbus-tcp" } }],
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
        { path: "log.pretty", message: "not a setting the shadow may change" },
        { path: "containers.0.id", message: "no container C9 on this gateway" },
        {
          path: "containers.1.driver",
          message: "a local-only setting: only the gateway's own config file sets it",
        },
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

describe("checkRemote, the log level and a container's report by exception", () => {
  it("sets them over the file's, and a null brings the file's back", () => {
    const result = checkRemote(
      {
        log: { level: "debug" },
        containers: [{ id: "C1", reportByException: { maxSilenceSeconds: 300 } }],
      },
      file,
    );
    if (!("config" in result)) throw new Error(JSON.stringify(result.problems));
    expect(result.config.log.level).toBe("debug");
    expect(result.config.containers[0]?.reportByException?.maxSilenceSeconds).toBe(300);
    expect(result.config.containers[0]?.driver).toEqual(file.containers[0]?.driver);
    const back = checkRemote({ containers: [{ id: "C1", reportByException: null }] }, file);
    expect("config" in back && back.config.containers[0]?.reportByException).toBeUndefined();
    expect(checkRemote({ log: { level: "loud" } }, file)).toMatchObject({
      problems: [{ path: "log.level" }],
    });
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
