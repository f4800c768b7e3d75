import { join } from "node:path";
import type { AgentConfig } from "../../config/schema.js";
import { validateConfig } from "../../config/load.js";

/**
 * The embedded default: four simulated reefers at demo speed (an hour of reefer life a minute),
 * one of them with a failing compressor, against the embedded broker. Validated by the same
 * schema as any config file.
 */
export function demoConfig(
  brokerUrl: string,
  dataDir: string,
  intervalMs = 1000,
  httpListen = "127.0.0.1:0",
): AgentConfig {
  const sim = { type: "simulated", timeScale: 60 };
  return validateConfig(
    {
      version: 1,
      gateway: { id: "demo-gw-0001" },
      mqtt: { url: brokerUrl, protocolVersion: 4, keepaliveSeconds: 30 },
      buffer: { path: join(dataDir, "outbox.db"), maxBytes: "64MiB" },
      sampling: { intervalMs },
      containers: [
        { id: "C01", product: "P01", driver: { ...sim, scenario: "normal", seed: 1 } },
        {
          id: "C02",
          product: "P02",
          driver: {
            ...sim,
            scenario: "normal",
            seed: 2,
            track: { latitude: 51.9, longitude: 4.1, headingDegrees: 250, speedKnots: 18 },
          },
        },
        {
          id: "C03",
          product: "P05",
          driver: { ...sim, scenario: "temperature-rising", seed: 3, scenarioOnsetSeconds: 600 },
        },
        { id: "C04", product: "P04", driver: { ...sim, scenario: "co2-sensor", seed: 4 } },
      ],
      // Demo-sized rules: 10-second windows and short graces, so alerts show within seconds.
      rules: {
        window: { seconds: 10, allowedLatenessSeconds: 2 },
        power: { graceSeconds: 10 },
        fans: { graceSeconds: 10 },
        atmosphere: { graceSeconds: 10 },
      },
      log: { level: "silent", pretty: "auto" },
      // The dashboard, on loopback: a free port unless --http names one.
      http: { listen: httpListen },
    },
    "embedded demo config",
  );
}
