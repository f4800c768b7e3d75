import { z } from "zod";
import { SCENARIOS } from "../drivers/simulated/config.js";
import { checkHttp, httpSchema } from "./http-schema.js";

/**
 * The fleet file of `reefer-edge fleet`: how many simulated gateways, what they share, how they
 * connect and what goes wrong. Its reference (config/REFERENCE.md) is generated from this schema, as
 * the agent's is.
 */

export const FLEET_VERSION = 1;

/** Gateway ids become thing names and MQTT client ids: `<prefix>-00042`. */
const ID_PREFIX = /^[a-zA-Z0-9_-]{1,100}$/;

const at = z.number().nonnegative().describe("Seconds after the whole fleet is connected.");

const chaosSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("broker-restart"),
    atSeconds: at,
    downSeconds: z
      .number()
      .nonnegative()
      .default(5)
      .describe("How long the broker stays down (a broker the fleet started)."),
    waitSeconds: z
      .number()
      .positive()
      .default(600)
      .describe(
        "With a broker the fleet did not start: how long to wait for the operator's restart (every gateway disconnected, then back).",
      ),
  }),
  z.strictObject({
    kind: z.literal("partition"),
    atSeconds: at,
    durationSeconds: z.number().positive().describe("How long the link is cut."),
    fraction: z
      .number()
      .gt(0)
      .max(1)
      .describe("Share of the gateways whose link is cut (the same gateways for every event)."),
  }),
  z.strictObject({
    kind: z.literal("release"),
    atSeconds: at,
    version: z
      .string()
      .regex(/^\d+\.\d+\.\d+$/, "a version like 2.0.0")
      .default("99.0.0")
      .describe("The version released: different from the one the gateways run."),
    behaviour: z
      .enum(["good", "crash"])
      .default("crash")
      .describe(
        "What the release does once installed: good runs and passes its soak; crash never starts (each gateway's installer rolls it back by itself).",
      ),
    soakSeconds: z
      .int()
      .min(10)
      .default(10)
      .describe("The soak each gateway's installer gives the new version."),
    rollout: z
      .strictObject({
        baseRatePerMinute: z.int().min(1).max(1000).default(10),
        incrementFactor: z.number().min(1.1).max(5).default(2),
        succeededToIncrease: z.int().min(1).default(10),
      })
      .default({ baseRatePerMinute: 10, incrementFactor: 2, succeededToIncrease: 10 })
      .describe("The job's exponential rollout, as `reefer-edge cloud release` sets it."),
    abort: z
      .strictObject({
        failedPercent: z.number().min(0).max(100).default(5),
        minExecuted: z.int().min(1).default(100),
      })
      .default({ failedPercent: 5, minExecuted: 100 })
      .describe(
        "Cancel the job once this share of the gateways notified failed, after at least this many.",
      ),
    waitSeconds: z
      .number()
      .positive()
      .default(900)
      .describe(
        "How long the release may take to end: every execution ended or cancelled, every install settled.",
      ),
  }),
  z.strictObject({
    kind: z.literal("slow-link"),
    atSeconds: at,
    durationSeconds: z.number().positive().describe("How long the link stays slow."),
    fraction: z.number().gt(0).max(1).describe("Share of the gateways on the slow link."),
    latencyMs: z.int().nonnegative().default(600).describe("Added one-way latency."),
    bytesPerSecond: z
      .int()
      .positive()
      .default(2048)
      .describe("Bandwidth of each connection, each way."),
  }),
]);

export type ChaosEvent = z.output<typeof chaosSchema>;

/**
 * The settings every gateway of a fleet shares, in the agent config's own names. Each gateway's
 * config is checked in full by the agent's schema when it is built (gatewayConfig); here the
 * block is typed for what the fleet itself reads (the broker, its CA, the first reconnect delay
 * and connect budget, the log level) and sets per gateway, and any other setting passes through as it is.
 */
const section = z.looseObject({});
const fleetAgentSchema = z.looseObject({
  mqtt: z
    .looseObject({
      url: z.string().optional(),
      ca: z.string().optional(),
      reconnect: z
        .looseObject({
          initialDelayMs: z.number().optional(),
          fleetSize: z.number().optional(),
          connectsPerSecond: z.number().optional(),
        })
        .optional(),
    })
    .optional(),
  buffer: section.optional(),
  log: z.looseObject({ level: z.string().optional() }).optional(),
  remoteConfig: section.optional(),
  audit: section.optional(),
  update: section.optional(),
});

export const fleetSchema = z
  .strictObject({
    version: z.literal(FLEET_VERSION).describe("Fleet file format version."),
    gateways: z.int().min(1).max(100_000).describe("How many gateways (agents) the fleet runs."),
    containersPerGateway: z
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe("Simulated reefers per gateway."),
    idPrefix: z
      .string()
      .regex(ID_PREFIX, "expected 1-100 characters of A-Z a-z 0-9 _ -")
      .default("fleet")
      .describe("Gateway i is `<idPrefix>-<i, zero-padded to 5>`; its containers add `-C<j>`."),
    seed: z
      .int()
      .default(1)
      .describe(
        "Seed of the scenario mix and the simulated readings: the same seed, the same fleet.",
      ),
    scenarios: z
      .partialRecord(z.enum(SCENARIOS), z.number().nonnegative())
      .default({ normal: 97, "temperature-rising": 2, "power-off": 1 })
      .describe(
        "Scenario mix by weight (percentages or any weights), drawn per container with the seed.",
      ),
    timeScale: z
      .number()
      .positive()
      .max(100_000)
      .default(1)
      .describe("Model seconds per real second of every simulated reefer."),
    dataDir: z
      .string()
      .default("./fleet-data")
      .describe(
        "One outbox per gateway (`<dataDir>/gateways/<id>/outbox.db`) and the certificates (`<dataDir>/certs/`), kept between runs.",
      ),
    issuer: z
      .strictObject({
        cert: z
          .string()
          .describe("PEM certificate of the CA that signs the gateways' certificates."),
        key: z.string().describe("Its private key (PKCS#8 PEM, EC P-256 or RSA); chmod 600."),
      })
      .optional()
      .describe(
        "The CA of the gateways' client certificates. Omitted: the fleet makes its own in `<dataDir>/certs/` once (then the broker must trust that).",
      ),
    broker: z
      .strictObject({
        start: z
          .enum(["none", "mosquitto"])
          .default("none")
          .describe(
            '"mosquitto": the fleet starts a Mosquitto on 127.0.0.1 with mTLS and per-gateway ACLs, trusting the issuer (and restarts it for broker-restart); "none": agent.mqtt.url is the broker.',
          ),
        binary: z.string().default("mosquitto").describe("The Mosquitto binary to start."),
      })
      .prefault({})
      .describe("Which broker the fleet talks to."),
    ramp: z
      .strictObject({
        connectsPerSecond: z
          .number()
          .positive()
          .default(200)
          .describe(
            "Gateways started per second across the fleet (each worker its share); after the ramp each gateway's own reconnect policy governs.",
          ),
        maxConnecting: z
          .int()
          .min(1)
          .default(100)
          .describe(
            "Per worker, at most this many gateways started and not yet connected: a ramp faster than TLS handshakes complete only makes them time out and back off.",
          ),
      })
      .prefault({})
      .describe("How fast the fleet comes up."),
    gatewaysPerWorker: z
      .int()
      .min(1)
      .max(4000)
      .default(2500)
      .describe(
        "Gateways per worker process. Each gateway holds a socket and its SQLite files (about 5 descriptors); a process here may hold about 20,000.",
      ),
    observe: z
      .boolean()
      .default(true)
      .describe(
        "Subscribe to dt/reefer/# as `<idPrefix>-observer` and count every seq delivered (the report's losses and duplicates); the broker's ACL must let it read.",
      ),
    durationSeconds: z
      .number()
      .positive()
      .default(300)
      .describe("How long the fleet samples once connected (Ctrl-C ends it sooner)."),
    drainTimeoutSeconds: z
      .number()
      .positive()
      .default(300)
      .describe("After sampling stops, how long to wait for every backlog to drain."),
    chaos: z
      .array(chaosSchema)
      .default([])
      .describe(
        "Named faults, in order: broker-restart, partition, slow-link, and release: an update job rolled out to the fleet (AWS IoT Jobs' rollout and abort played by a stand-in, each gateway's installer in memory).",
      ),
    http: httpSchema.describe(
      "The fleet's dashboard (every container as a tile, a gateway's view on a click) and its listener: the agent's http settings. Off unless http.listen is set; `--http HOST:PORT` sets it for one run.",
    ),
    agent: fleetAgentSchema
      .default({})
      .describe(
        "Settings every gateway shares, in the agent config's own names (mqtt, sampling, rules, buffer.maxBytes, publish, log). gateway, containers, buffer.path, mqtt.cert and mqtt.key are set per gateway.",
      ),
  })
  .superRefine((fleet, ctx) => {
    checkHttp(fleet.http, ctx);
    for (const key of ["gateway", "containers", "version"]) {
      if (key in fleet.agent) {
        ctx.addIssue({
          code: "custom",
          path: ["agent", key],
          message: "is set per gateway by the fleet; remove it",
        });
      }
    }
    const mqtt = fleet.agent.mqtt;
    for (const key of ["cert", "key"]) {
      if (mqtt && key in mqtt) {
        ctx.addIssue({
          code: "custom",
          path: ["agent", "mqtt", key],
          message: "each gateway gets its own certificate from the issuer; remove it",
        });
      }
    }
    const buffer = fleet.agent.buffer;
    if (buffer && "path" in buffer) {
      ctx.addIssue({
        code: "custom",
        path: ["agent", "buffer", "path"],
        message: "each gateway's outbox lives under dataDir; remove it",
      });
    }
    if (fleet.broker.start === "none" && mqtt?.url === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["agent", "mqtt", "url"],
        message: 'the broker: set agent.mqtt.url, or broker.start: "mosquitto"',
      });
    }
    const most = (kind: string) =>
      Math.max(0, ...fleet.chaos.map((e) => (e.kind === kind && "fraction" in e ? e.fraction : 0)));
    if (most("partition") + most("slow-link") > 1) {
      ctx.addIssue({
        code: "custom",
        path: ["chaos"],
        message: "the partition's and the slow link's fractions add up to more than 1",
      });
    }
    if (fleet.chaos.filter((e) => e.kind === "release").length > 1) {
      ctx.addIssue({ code: "custom", path: ["chaos"], message: "one release a run at most" });
    }
    if (Object.values(fleet.scenarios).every((weight) => !weight)) {
      ctx.addIssue({ code: "custom", path: ["scenarios"], message: "needs a positive weight" });
    }
  });

export type FleetConfig = z.output<typeof fleetSchema>;
