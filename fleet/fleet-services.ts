import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { FleetConfig } from "../config/fleet-schema.js";
import { ensureIdentity, ensureOwnIssuer, loadIssuer, type Issuer } from "./certificates.js";
import { FleetBroker } from "./fleet-broker.js";
import { certDir, observerId, ownIssuerFiles } from "./fleet-file.js";
import { FleetObserver } from "./observer.js";

/** What a fleet run talks to besides its gateways. */
export interface FleetServices {
  readonly brokerUrl: string;
  /** The CA file the gateways trust the broker by. */
  readonly ca: string | undefined;
  readonly broker: FleetBroker | null;
  readonly observer: FleetObserver | null;
}

/** The issuer of the gateways' certificates: the file's, or the CA the fleet makes once. */
export async function fleetIssuer(fleet: FleetConfig): Promise<{ issuer: Issuer; cert: string }> {
  mkdirSync(certDir(fleet), { recursive: true });
  if (fleet.issuer) {
    return {
      issuer: await loadIssuer(fleet.issuer.cert, fleet.issuer.key),
      cert: fleet.issuer.cert,
    };
  }
  const issuer = await ensureOwnIssuer(certDir(fleet), `${fleet.idPrefix} fleet issuer`);
  return { issuer, cert: ownIssuerFiles(fleet).cert };
}

/**
 * A Mosquitto of the fleet's own, with a server certificate for localhost from the issuer and
 * none of an earlier run's sessions.
 */
export async function startOwnBroker(
  fleet: FleetConfig,
  issuer: { issuer: Issuer; cert: string },
  dir = join(fleet.dataDir, "broker"),
): Promise<FleetBroker> {
  const files = {
    cert: join(certDir(fleet), "broker.crt"),
    key: join(certDir(fleet), "broker.key"),
  };
  await ensureIdentity(issuer.issuer, "localhost", files, {
    server: true,
    dns: ["localhost"],
    ips: ["127.0.0.1"],
  });
  rmSync(join(dir, "mosquitto.db"), { force: true });
  return FleetBroker.start(
    fleet.broker.binary,
    dir,
    { ca: issuer.cert, ...files },
    observerId(fleet),
  );
}

/** The broker (started when the file asks) and the observer (when it observes). */
export async function startFleetServices(
  fleet: FleetConfig,
  shard: { index: number; of: number },
): Promise<FleetServices> {
  const issuer = await fleetIssuer(fleet);
  const mqtt = fleet.agent.mqtt;
  const broker = fleet.broker.start === "mosquitto" ? await startOwnBroker(fleet, issuer) : null;
  const brokerUrl = broker?.url ?? mqtt?.url ?? "";
  const ca = broker ? issuer.cert : mqtt?.ca;
  let observer: FleetObserver | null = null;
  if (fleet.observe) {
    // Shards each observe with an id of their own: one client id, one session.
    const id = shard.of === 1 ? observerId(fleet) : `${observerId(fleet)}-${shard.index}`;
    const files = {
      cert: join(certDir(fleet), `${id}.crt`),
      key: join(certDir(fleet), `${id}.key`),
    };
    await ensureIdentity(issuer.issuer, id, files);
    observer = await FleetObserver.connect(brokerUrl, { ca, ...files }, id);
  }
  return { brokerUrl, ca, broker, observer };
}
