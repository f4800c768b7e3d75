import type { Command } from "./command.js";

/**
 * The CLI's commands, one module each, loaded only when run: the table is the usage text, the
 * dispatch and the list of what `reefer-edge` does.
 */
export const COMMANDS: readonly Command[] = [
  {
    name: "run",
    usage: `run --config FILE [--captured-report FILE]
          run the agent (SIGTERM/SIGINT stop it gracefully; SIGHUP or a changed file reloads the
          rules); --captured-report appends each durably captured reading to FILE, for a rig
          that checks the outbox from outside (power cuts)`,
    load: () => import("./run-command.js"),
  },
  {
    name: "validate",
    usage: `validate --config FILE
          check a config; prints every problem, exits non-zero on any`,
    load: () => import("./validate-command.js"),
  },
  {
    name: "doctor",
    usage: `doctor --config FILE [--json]
          on site: config, certificates, clock, serial ports and a read of each device, outbox,
          disk, and the way to the broker; a verdict and a fix each; exits 0 when all pass`,
    load: () => import("./doctor-command.js"),
  },
  {
    name: "demo",
    usage: `demo [--duration S] [--interval MS] [--data DIR] [--http HOST:PORT]
          simulated reefers, an embedded broker, a live view in the terminal and a dashboard in
          the browser (its URL is printed; loopback and a free port unless --http)`,
    load: () => import("./demo-command.js"),
  },
  {
    name: "fleet",
    usage: `fleet --file FLEET.yaml [--shard I/K] [--duration S] [--broker URL] [--http HOST:PORT] [--json]
          a simulated fleet of real agents (config/REFERENCE.md): ramp, chaos, drain, and a
          report of what was lost (exit 1 if any); --http serves its dashboard (URL printed)`,
    load: () => import("./fleet-command.js"),
  },
  {
    name: "outbox",
    usage: `outbox migrate [--check] (--path DB | --config FILE)
          brings an outbox's schema up to this version's (package upgrades run it between
          stopping the old agent and starting the new one); --check changes nothing and
          exits 1 when a migration is pending`,
    load: () => import("./outbox-command.js"),
  },
  {
    name: "provision",
    usage: `provision --config FILE --claim-cert C --claim-key K --template NAME --serial S
          fleet provisioning by claim: a key made here, a certificate from its CSR, the thing
          registered, written where the config names them; resumes after interruption`,
    load: () => import("./provision-command.js"),
  },
  {
    name: "cloud",
    usage: `cloud ...
          the operator's commands through AWS IoT (config shadow, health, list, send):
          reefer-edge cloud help`,
    load: () => import("./cloud-command.js"),
  },
  {
    name: "audit",
    usage: `audit verify --lake DIR --checkpoints DIR --keys FILE [--container ID]... [--from T] [--to T] [--range LOW:HIGH] [--json]
          proves a container's cold chain from the lake: complete (each missing range named),
          unaltered (from the first bad record), min/max temperature and time out of range,
          against the gateways' signed checkpoints; exits 0 verified, 1 not (docs/audit-log.md)
        audit key --gateway ID --hex HEX
          the verifier key line for --keys, from the checkpoint_key registered with the thing
        audit export --lake DIR --container ID [--from T] [--to T] [--out FILE]
          the voyage's readings as GS1 EPCIS 2.0 sensor events, each eventID the event hash`,
    load: () => import("./audit-command.js"),
  },
  {
    name: "ports",
    usage: `ports
          lists serial ports (RS-485 adapters) with the stable /dev/serial/by-id names to put in
          a Modbus driver's config`,
    load: () => import("./ports-command.js"),
  },
];

export function usage(): string {
  return `reefer-edge: edge gateway agent for refrigerated containers

Usage:
${COMMANDS.map((c) => `  reefer-edge ${c.usage}`).join("\n")}
  reefer-edge help

The config file may also be named by REEFER_EDGE_CONFIG; REEFER_EDGE__<PATH> variables override
its values (REEFER_EDGE__MQTT__URL=mqtts://... sets mqtt.url).

Exit codes: 0 after a graceful stop, 2 usage error, 75 the outbox is in use by another agent,
78 a config or TLS file that cannot be used.`;
}
