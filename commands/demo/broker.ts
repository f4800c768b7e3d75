import { Aedes } from "aedes";
import { createServer, type AddressInfo, type Server } from "node:net";

export interface EmbeddedBroker {
  readonly url: string;
  readonly broker: Aedes;
  close(): Promise<void>;
}

/**
 * An MQTT broker inside the demo process (aedes: MQTT 3.1.1 only), on loopback and a free port,
 * so the demo needs no broker installed and never collides with one.
 */
export async function startEmbeddedBroker(port = 0): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${address.port}`,
    broker,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
