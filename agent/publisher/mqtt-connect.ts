import { createRequire } from "node:module";
import type { IClientOptions, MqttClient } from "mqtt";

/**
 * MQTT.js's connect function, loaded from its own module rather than the package entry. The entry
 * also loads every store, id provider and helper the publisher never uses: measured here, 7 to
 * 11 MiB more RSS, which counts on a Pi. The package's typesVersions map every subpath to the
 * entry's types, so the module is required by path and typed from the entry.
 */
const load = createRequire(import.meta.url);
const module = load("mqtt/lib/connect/index") as {
  default: (url: string, options: IClientOptions) => MqttClient;
};

export const connect = module.default;
