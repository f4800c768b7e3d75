import { afterAll, beforeAll } from "vitest";
import { Monitor } from "./monitor.js";
import { MONITOR, MosquittoBroker } from "./mosquitto.js";
import { makePki, type TestPki } from "./pki.js";
import { makeTempDir } from "./tmp.js";

export interface BrokerFixture {
  temp: ReturnType<typeof makeTempDir>;
  pki: TestPki;
  broker: MosquittoBroker;
  monitor: Monitor;
}

/**
 * For a describe block: before its tests, a temp folder, a PKI with a certificate for each of
 * `clients` and for the monitor, a Mosquitto with mTLS and the monitoring subscriber; after them,
 * all stopped and removed. The fields are set once the block's beforeAll ran.
 */
export function useMosquitto(binary: string, clients: readonly string[]): BrokerFixture {
  const fixture = {} as BrokerFixture;
  beforeAll(async () => {
    fixture.temp = makeTempDir();
    fixture.pki = makePki(fixture.temp.dir, [...clients, MONITOR]);
    fixture.broker = await MosquittoBroker.start(binary, fixture.temp.dir, fixture.pki);
    fixture.monitor = await Monitor.connect(
      fixture.broker.url,
      fixture.pki.caCert,
      fixture.pki.client(MONITOR),
    );
  });
  afterAll(async () => {
    await fixture.monitor.close();
    await fixture.broker.stop();
    fixture.temp.cleanup();
  });
  return fixture;
}
