import { loadOrCreateCheckpointKey } from "../../agent/audit/checkpoint-key.js";
import {
  checkpointKeyName,
  publicKeyHex,
  verifierKey,
  verifierKeyFromHex,
} from "../../core/audit/checkpoint.js";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useMosquitto } from "../support/broker-fixture.js";
import { runCli, startCli } from "../support/cli.js";
import { CLAIM, PROVISIONING_SERVICE } from "../support/mosquitto.js";
import { ProvisioningService } from "../support/provisioning-service.js";
import { requireTool } from "../support/tools.js";
import { waitFor } from "../support/wait-for.js";

const mosquitto = requireTool("mosquitto", "apt-get install -y mosquitto");
const SERIAL = "RX7-000042";
const TEMPLATE = "ReeferGatewayTemplate";

/**
 * `reefer-edge provision` against Mosquitto with mTLS and a stand-in of AWS IoT's provisioning
 * topics whose CA signs the CSR with openssl: interrupted after each step and run again, it
 * finishes with the key it made first; run once more it changes nothing; the gateway then runs
 * with what it wrote.
 */
describe.skipIf(mosquitto.skip)("fleet provisioning by claim", () => {
  const env = useMosquitto(mosquitto.path ?? "", [CLAIM, PROVISIONING_SERVICE]);
  let service: ProvisioningService;
  let dir: string;
  let config: string;

  beforeAll(async () => {
    service = await ProvisioningService.start({
      brokerUrl: env.broker.url,
      ca: { cert: env.pki.caCert, key: join(env.temp.dir, "test-ca.key") },
      identity: env.pki.client(PROVISIONING_SERVICE),
      template: TEMPLATE,
    });
    dir = join(env.temp.dir, "gateway");
    mkdirSync(dir);
    config = join(dir, "agent.yaml");
    writeFileSync(
      config,
      `# reefer gateway, as shipped from the factory
version: 1
mqtt:
  url: ${env.broker.url}
  ca: ${env.pki.caCert}
  cert: ./device.pem # written by provisioning
  key: ./device.key
buffer: { path: ./outbox.db }
audit: { enabled: true }
sampling: { intervalMs: 200 }
containers:
  - { id: C1, product: P01, driver: { type: simulated, seed: 1 } }
log: { level: warn }
`,
    );
  });
  afterAll(async () => {
    await service.stop();
  });

  const claim = () => env.pki.client(CLAIM);
  /** `reefer-edge provision` with this test's claim, template and serial. */
  const provisionWith = (files: { config: string; claimKey: string }, ...extra: string[]) =>
    runCli([
      "provision",
      ...["--config", files.config, "--claim-cert", claim().cert, "--claim-key", files.claimKey],
      ...["--template", TEMPLATE, "--serial", SERIAL, ...extra],
    ]);
  const provision = (...extra: string[]) =>
    provisionWith({ config, claimKey: claim().key }, ...extra);

  it("refuses a claim key others can read, and a config that does not say where the identity goes", async () => {
    const loose = join(env.temp.dir, "loose.key");
    copyFileSync(claim().key, loose);
    chmodSync(loose, 0o644);
    const refused = await provisionWith({ config, claimKey: loose });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`chmod 600 ${loose}`);
    const bare = join(env.temp.dir, "bare.yaml");
    writeFileSync(bare, `version: 1\nmqtt: { url: ${env.broker.url} }\n`);
    const incomplete = await provisionWith({ config: bare, claimKey: claim().key });
    expect(incomplete.code).toBe(78);
    expect(incomplete.stderr).toContain("mqtt.key");
  });

  it("resumes after an interruption at each step, keeps its first key, and finishes once", async () => {
    // The certificate request is lost.
    service.silent = "csr";
    const first = await provision("--timeout", "2");
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("run the same command again: it resumes");
    const key = readFileSync(join(dir, "device.key.new"), "utf8");
    expect(statSync(join(dir, "device.key.new")).mode & 0o777).toBe(0o600);

    // The certificate comes, the registration is lost.
    service.silent = "provision";
    const second = await provision("--timeout", "2");
    expect(second.code).toBe(1);
    expect(existsSync(join(dir, "device.pem.new"))).toBe(true);
    expect(service.things.size).toBe(0);

    service.silent = null;
    const third = await provision();
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toContain(`provisioned as gw-${SERIAL}`);
    expect(readFileSync(join(dir, "device.key"), "utf8")).toBe(key);
    expect(statSync(join(dir, "device.key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "device.pem")).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, "device.key.new")) || existsSync(join(dir, "device.pem.new"))).toBe(
      false,
    );
    expect(existsSync(join(dir, "device.key.provisioning.json"))).toBe(false);
    const written = readFileSync(config, "utf8");
    expect(written).toContain(`id: gw-${SERIAL}`);
    expect(written).toContain("# reefer gateway, as shipped from the factory");
    expect(written).toContain("# written by provisioning");
    expect([...service.things]).toEqual([`gw-${SERIAL}`]);
    // The audit log's checkpoint key, made beside the outbox, registered with the thing in hex;
    // the agent signs with that very key, and an auditor rebuilds its verifier key from it.
    const checkpointKey = loadOrCreateCheckpointKey(join(dir, "checkpoint-key.pem"));
    expect(checkpointKey.created).toBe(false);
    const registered = service.attributes.get(`gw-${SERIAL}`)?.checkpoint_key ?? "";
    expect(registered).toBe(publicKeyHex(checkpointKey.publicKey));
    expect(verifierKeyFromHex(`gw-${SERIAL}`, registered)).toBe(
      verifierKey(checkpointKeyName(`gw-${SERIAL}`), checkpointKey.publicKey),
    );

    // Once more: nothing to do, nothing asked of the cloud.
    const issued = service.certificates.length;
    const again = await provision();
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already provisioned as gw-${SERIAL}`);
    expect(service.certificates.length).toBe(issued);
  }, 60_000);

  it("finishes from its own records when it stopped after the registration, asking the cloud nothing", async () => {
    const second = join(env.temp.dir, "second");
    mkdirSync(second);
    const secondConfig = join(second, "agent.yaml");
    writeFileSync(
      secondConfig,
      readFileSync(config, "utf8").replace(/^gateway:.*\n( {2}id:.*\n)?/m, ""),
    );
    // Key and certificate made, registration lost: the state a crash right after it leaves,
    // but for the step, which the next lines move on as the registration would have.
    service.silent = "provision";
    const cut = await provisionWith(
      { config: secondConfig, claimKey: claim().key },
      "--timeout",
      "2",
    );
    expect(cut.code).toBe(1);
    const stateFile = join(second, "device.key.provisioning.json");
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as Record<string, unknown>;
    writeFileSync(
      stateFile,
      JSON.stringify({ ...state, step: "registered", thingName: `gw-${SERIAL}` }),
    );
    // Any question to the cloud now would go unanswered.
    service.silent = "csr";
    const resumed = await provisionWith(
      { config: secondConfig, claimKey: claim().key },
      "--timeout",
      "2",
    );
    service.silent = null;
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(readFileSync(secondConfig, "utf8")).toContain(`id: gw-${SERIAL}`);
    expect(existsSync(join(second, "device.pem")) && existsSync(join(second, "device.key"))).toBe(
      true,
    );
    expect(existsSync(stateFile)).toBe(false);
  }, 30_000);

  it("the gateway runs with the identity it was given", async () => {
    const agent = startCli(["run", "--config", config]);
    try {
      await waitFor(
        "readings from the provisioned gateway",
        () => env.monitor.seqs("C1").size >= 3,
        20_000,
        { detail: () => agent.stderr + agent.stdout },
      );
    } finally {
      agent.child.kill("SIGTERM");
      expect(await agent.exited).toBe(0);
    }
  }, 40_000);
});
