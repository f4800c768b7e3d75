import { readFileSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";

/**
 * The fleet benchmark's baseline, run as its own process: plain MQTT.js clients holding the same
 * mTLS connections as the fleet's gateways (same ids, same certificates, same broker) and doing
 * nothing else. Prints one JSON line once all are connected, then holds them until SIGTERM.
 * argv: url ca certDir prefix count concurrency
 */
const [url = "", ca = "", certDir = "", prefix = "", countText = "0", concurrencyText = "200"] =
  process.argv.slice(2);
const count = Number(countText);
const concurrency = Number(concurrencyText);
const caPem = readFileSync(ca);
const clients: MqttClient[] = [];
const began = performance.now();
let next = 0;

async function connectOne(index: number): Promise<void> {
  const id = `${prefix}-${String(index).padStart(5, "0")}`;
  for (;;) {
    try {
      clients.push(
        await mqtt.connectAsync(url, {
          clientId: id,
          ca: caPem,
          cert: readFileSync(join(certDir, `${id}.crt`)),
          key: readFileSync(join(certDir, `${id}.key`)),
          protocolVersion: 5,
          keepalive: 60,
          reconnectPeriod: 0,
          connectTimeout: 30_000,
        }),
      );
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function lane(): Promise<void> {
  while (next < count) await connectOne(next++);
}

await Promise.all(Array.from({ length: concurrency }, lane));
process.stdout.write(
  JSON.stringify({
    connected: clients.length,
    seconds: (performance.now() - began) / 1000,
    rssBytes: process.memoryUsage.rss(),
  }) + "\n",
);
process.once("SIGTERM", () => {
  for (const client of clients) client.end(true);
  process.exit(0);
});
