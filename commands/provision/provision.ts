import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import mqtt from "mqtt";
import { parseDocument } from "yaml";
import { loadOrCreateCheckpointKey } from "../../agent/audit/checkpoint-key.js";
import { publicKeyHex } from "../../core/audit/checkpoint.js";
import { ConfigError, readConfigText } from "../../config/load.js";
import { certificateRequest, newDeviceKey } from "./device-key.js";
import { requestReply } from "./request-reply.js";

export interface ProvisionOptions {
  /** The gateway's config file: where the broker is, where its certificate and key go. */
  readonly config: string;
  readonly claimCert: string;
  readonly claimKey: string;
  readonly template: string;
  readonly serial: string;
  readonly timeoutSeconds?: number;
  readonly log?: (line: string) => void;
}

/** Where a provisioning stands, kept beside the key so any interruption can resume. */
interface ProvisioningState {
  readonly serial: string;
  readonly template: string;
  step: "key" | "certificate" | "registered";
  certificateId?: string;
  certificateOwnershipToken?: string;
  tokenAt?: number;
  thingName?: string;
}

const CSR_TOPIC = "$aws/certificates/create-from-csr/json";
/** An ownership token older than this is not trusted to still work: a new certificate is asked. */
const TOKEN_FRESH_MS = 4 * 60_000;

/**
 * Fleet provisioning by claim (AWS IoT's MQTT API): with the factory's claim certificate, a key
 * made here (it never leaves the gateway), a certificate from its CSR, and the thing registered
 * by the template; then the certificate and key land where the config names them (atomically,
 * the key 0600) and the thing name becomes its gateway.id. Each step is recorded before the
 * next, so running the same command again after any interruption resumes, and after success
 * says so and changes nothing.
 */
export async function provision(
  options: ProvisionOptions,
): Promise<{ thingName: string; already: boolean }> {
  const log = options.log ?? (() => undefined);
  const timeout = options.timeoutSeconds ?? 30;
  const text = readConfigText(options.config);
  const document = parseDocument(text);
  const base = dirname(resolve(options.config));
  const at = (value: unknown) =>
    typeof value === "string" ? (isAbsolute(value) ? value : resolve(base, value)) : undefined;
  const url = document.getIn(["mqtt", "url"]);
  const ca = at(document.getIn(["mqtt", "ca"]));
  const certFile = at(document.getIn(["mqtt", "cert"]));
  const keyFile = at(document.getIn(["mqtt", "key"]));
  const missing = [
    typeof url === "string" ? null : "mqtt.url",
    certFile ? null : "mqtt.cert (where the certificate goes)",
    keyFile ? null : "mqtt.key (where the key goes)",
  ].filter((m) => m !== null);
  if (missing.length > 0 || typeof url !== "string" || !certFile || !keyFile) {
    throw new ConfigError(
      options.config,
      missing.map((m) => ({ path: m.split(" ")[0] ?? m, message: `needed to provision: ${m}` })),
    );
  }
  privateKeyMode(options.claimKey, "--claim-key");

  const stateFile = `${keyFile}.provisioning.json`;
  const pendingKey = `${keyFile}.new`;
  const pendingCert = `${certFile}.new`;
  const existingId = document.getIn(["gateway", "id"]);
  if (
    !existsSync(stateFile) &&
    existsSync(certFile) &&
    existsSync(keyFile) &&
    typeof existingId === "string"
  ) {
    log(`already provisioned as ${existingId}: nothing to do`);
    return { thingName: existingId, already: true };
  }
  const state: ProvisioningState = existsSync(stateFile)
    ? (JSON.parse(readFileSync(stateFile, "utf8")) as ProvisioningState)
    : { serial: options.serial, template: options.template, step: "key" };
  if (state.serial !== options.serial || state.template !== options.template) {
    throw new Error(
      `${stateFile}: a provisioning of serial ${state.serial} with template ${state.template} is under way; finish it, or remove that file to start again`,
    );
  }
  const save = () => writeAtomically(stateFile, JSON.stringify(state), 0o600);

  if (!existsSync(pendingKey) && state.step !== "registered") {
    writeAtomically(pendingKey, await newDeviceKey(), 0o600);
    log("made the gateway's key");
  }
  save();

  // The audit log's checkpoint key, made now if need be, is registered with the thing (its
  // public half, in hex): what an auditor checks the gateway's checkpoints with.
  const checkpointKey = auditKeyHex(document, at, log);

  if (state.step !== "registered") {
    const client = await mqtt.connectAsync(url, {
      ...(ca && { ca: readFileSync(ca) }),
      cert: readFileSync(options.claimCert),
      key: readFileSync(options.claimKey),
      clientId: `claim-${options.serial}`,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: timeout * 1000,
    });
    try {
      const provisionTopic = `$aws/provisioning-templates/${options.template}/provision/json`;
      // Subscribed before asking: AWS answers once, to whoever listens then.
      await client.subscribeAsync(
        [
          `${CSR_TOPIC}/accepted`,
          `${CSR_TOPIC}/rejected`,
          `${provisionTopic}/accepted`,
          `${provisionTopic}/rejected`,
        ],
        { qos: 1 },
      );
      const fresh = state.tokenAt !== undefined && Date.now() - state.tokenAt < TOKEN_FRESH_MS;
      if (state.step === "key" || !fresh || !existsSync(pendingCert)) {
        const csr = await certificateRequest(readFileSync(pendingKey, "utf8"), options.serial);
        const answer = await requestReply(
          client,
          "create-from-csr",
          CSR_TOPIC,
          { certificateSigningRequest: csr },
          timeout,
        );
        const pem = answer.certificatePem;
        const token = answer.certificateOwnershipToken;
        if (typeof pem !== "string" || typeof token !== "string") {
          throw new Error(
            `create-from-csr: an answer without a certificate or token: ${JSON.stringify(answer)}`,
          );
        }
        writeAtomically(pendingCert, pem.endsWith("\n") ? pem : `${pem}\n`, 0o600);
        state.step = "certificate";
        state.certificateId =
          typeof answer.certificateId === "string" ? answer.certificateId : undefined;
        state.certificateOwnershipToken = token;
        state.tokenAt = Date.now();
        save();
        log(`certificate ${state.certificateId ?? ""} issued for the gateway's key`);
      }
      const registered = await requestReply(
        client,
        "provision",
        provisionTopic,
        {
          certificateOwnershipToken: state.certificateOwnershipToken,
          parameters: {
            SerialNumber: options.serial,
            ...(checkpointKey && { CheckpointKey: checkpointKey }),
          },
        },
        timeout,
      );
      if (typeof registered.thingName !== "string") {
        throw new Error(`provision: an answer without a thing name: ${JSON.stringify(registered)}`);
      }
      state.step = "registered";
      state.thingName = registered.thingName;
      save();
      log(`registered thing ${registered.thingName}`);
    } finally {
      await client.endAsync(true).catch(() => undefined);
    }
  }

  const thingName = state.thingName ?? "";
  // The key before the certificate: a certificate on disk always has its key beside it.
  if (existsSync(pendingKey)) renameSync(pendingKey, keyFile);
  if (existsSync(pendingCert)) renameSync(pendingCert, certFile);
  const updated = parseDocument(readConfigText(options.config));
  updated.setIn(["gateway", "id"], thingName);
  writeAtomically(options.config, updated.toString(), statSync(options.config).mode & 0o777);
  rmSync(stateFile, { force: true });
  log(
    `provisioned as ${thingName}: ${certFile}, ${keyFile} (0600), gateway.id in ${options.config}`,
  );
  return { thingName, already: false };
}

/** A private key file others can read is refused, as the agent refuses its own. */
function privateKeyMode(file: string, what: string): void {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch (error) {
    throw new Error(`${what}: ${file}: cannot be read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `${what}: ${file}: readable by other users (mode ${mode.toString(8).padStart(4, "0")}); run: chmod 600 ${file}`,
    );
  }
}

function writeAtomically(file: string, content: string, mode: number): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode });
  renameSync(temp, file);
}

/**
 * The gateway's checkpoint key (made if absent, where the agent will look for it) as the hex of
 * its public key; null when the config does not turn the audit log on.
 */
function auditKeyHex(
  document: ReturnType<typeof parseDocument>,
  at: (value: unknown) => string | undefined,
  log: (line: string) => void,
): string | null {
  if (document.getIn(["audit", "enabled"]) !== true) return null;
  const outbox = at(document.getIn(["buffer", "path"])) ?? at("./data/outbox.db") ?? "";
  const path =
    at(document.getIn(["audit", "keyFile"])) ?? join(dirname(outbox), "checkpoint-key.pem");
  const key = loadOrCreateCheckpointKey(path);
  if (key.created) log(`made the checkpoint key of the audit log (${path})`);
  return publicKeyHex(key.publicKey);
}
