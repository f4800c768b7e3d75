import { afterAll, beforeAll } from "vitest";
import { FaultProxy } from "./fault-proxy.js";
import { Monitor } from "./monitor.js";
import { MONITOR, MosquittoBroker } from "./mosquitto.js";
import { makePki, type TestPki } from "./pki.js";
import { makeTempDir } from "./tmp.js";

export interface BrokerFixture {
  temp: ReturnType<typeof makeTempDir>;
  pki: TestPki;
  broker: MosquittoBroker;
  monitor: Monitor;
  /**
   * A fault proxy in front of the broker. Agents that must lose their link (an outage) connect
   * through it (`agentUrl`) and the test calls `proxy.down()` / `proxy.up()`; the monitor keeps
   * its own connection to the broker, so an outage never makes the observer miss anything.
   */
  proxy: FaultProxy;
  /** The broker's URL through the proxy. */
  agentUrl: string;
}

/**
 * For a describe block: before its tests, a temp folder, a PKI with a certificate for each of
 * `clients` and for the monitor, a Mosquitto with mTLS, a fault proxy in front of it and the
 * monitoring subscriber; after them,
 * all stopped and removed. The fields are set once the block's beforeAll ran.
 */
export function useMosquitto(binary: string, clients: readonly string[]): BrokerFixture {
  const fixture = {} as BrokerFixture;
  beforeAll(async () => {
    fixture.temp = makeTempDir();
    fixture.pki = makePki(fixture.temp.dir, [...clients, MONITOR]);
    fixture.broker = await MosquittoBroker.start(binary, fixture.temp.dir, fixture.pki);
    fixture.proxy = await FaultProxy.start(fixture.broker.port);
    fixture.agentUrl = `mqtts://127.0.0.1:${fixture.proxy.port}`;
    fixture.monitor = await Monitor.connect(
      fixture.broker.url,
      fixture.pki.caCert,
      fixture.pki.client(MONITOR),
    );
  });
  afterAll(async () => {
    await fixture.proxy.close();
    await fixture.monitor.close();
    await fixture.broker.stop();
    fixture.temp.cleanup();
  });
  return fixture;
}

/**
 * The mqtt settings of an agent that connects to the fixture's broker through the fault proxy
 * as `gatewayId`, with a test's fast reconnects.
 */
export function agentMqtt(env: BrokerFixture, gatewayId: string): Record<string, unknown> {
  const { cert, key } = env.pki.client(gatewayId);
  return {
    url: env.agentUrl,
    ca: env.pki.caCert,
    cert,
    key,
    keepaliveSeconds: 5,
    reconnect: { initialDelayMs: 200, maxDelayMs: 1000, stableAfterMs: 5000 },
  };
}
