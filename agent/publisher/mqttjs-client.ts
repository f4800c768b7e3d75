import type { BrokerClient, LinkEvents } from "./broker-client.js";
import type { IClientOptions } from "mqtt";
import { connect } from "./mqtt-connect.js";

/** One MQTT.js connection behind the BrokerClient seam. */
export function openMqttJsClient(
  url: string,
  options: IClientOptions,
  events: LinkEvents,
): BrokerClient {
  const client = connect(url, options);
  client.on("connect", () => {
    events.connected();
  });
  client.on("error", (error) => {
    events.failed(error);
  });
  client.on("close", () => {
    events.closed();
  });
  return {
    publish(topic, payload, qos, done) {
      // MQTT.js hands a success as null or undefined: the seam says undefined.
      client.publish(topic, payload, { qos }, (error) => done?.(error ?? undefined));
    },
    subscribe(topics, qos, done) {
      client.subscribe([...topics], { qos }, (error) => {
        done(error ?? null);
      });
    },
    onMessage(listener) {
      const forward = (topic: string, payload: Buffer) => {
        listener(topic, payload);
      };
      client.on("message", forward);
      return () => client.off("message", forward);
    },
    end: () => client.endAsync(true).catch(() => undefined),
  };
}
