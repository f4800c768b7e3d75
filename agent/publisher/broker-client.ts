import type { IClientOptions } from "mqtt";

/** What the link tells the connection that owns it. */
export interface LinkEvents {
  /** CONNACK accepted: the session is up. */
  connected(): void;
  /** The handshake or the link failed: classified by describeConnectionError. */
  failed(error: Error): void;
  /** The link is gone, whatever the reason; it is never reused. */
  closed(): void;
}

/**
 * The few calls the agent makes of an MQTT client, for one connection's life: its own reconnect
 * policy makes a fresh client for every connection, so nothing is queued inside a client where
 * the outbox cannot see it. Two adapters answer it: MQTT.js (mqttjs-client.ts) and the AWS CRT
 * (crt-client.ts); test/integration/broker-client.contract.ts holds both to the same promises.
 */
export interface BrokerClient {
  /** `done` gets the PUBACK's refusal as an Error carrying its reason code, or nothing. */
  publish(topic: string, payload: string, qos: 0 | 1, done?: (error?: Error) => void): void;
  subscribe(topics: readonly string[], qos: 0 | 1, done: (error: Error | null) => void): void;
  /** Adds a listener of incoming messages; returns its removal. */
  onMessage(listener: (topic: string, payload: Buffer) => void): () => void;
  /** Closes at once, without waiting for messages in flight (the outbox still holds them). */
  end(): Promise<void>;
}

/** What a session on the link (a shadow) may do: send and receive, never end it. */
export type SessionLink = Pick<BrokerClient, "publish" | "subscribe" | "onMessage">;

/** Opens one connection; `events` hears how it goes. */
export type OpenBrokerClient = (
  url: string,
  options: IClientOptions,
  events: LinkEvents,
) => BrokerClient;
