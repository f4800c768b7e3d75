import { isIP } from "node:net";
import type { IClientOptions } from "mqtt";
import type { AgentConfig } from "../../config/schema.js";
import type { TlsMaterial } from "./tls.js";

/**
 * MQTT.js options for one connection of this gateway, as the agent connects (the publisher)
 * and as `doctor` tries it: the thing name as client id, no reconnection inside MQTT.js, TLS
 * with the gateway's files, ALPN for port 443, SNI by host name.
 */
export function mqttClientOptions(
  gatewayId: string,
  config: AgentConfig["mqtt"],
  tls: TlsMaterial,
): IClientOptions {
  const url = new URL(config.url);
  return {
    clientId: gatewayId,
    protocolVersion: config.protocolVersion,
    clean: true,
    keepalive: config.keepaliveSeconds,
    connectTimeout: config.connectTimeoutMs,
    reconnectPeriod: 0,
    resubscribe: false,
    queueQoSZero: false,
    // mqtt-packet otherwise pre-builds 65,536 two-byte Buffers on the first publish: 6 MiB of
    // heap (measured in a heap snapshot of the agent) to save one tiny allocation per packet,
    // which at IoT Core's 100 publishes/s does not matter (mqtt-packet issue #139).
    writeCache: false,
    rejectUnauthorized: true,
    ...(tls.ca && { ca: tls.ca }),
    ...(tls.cert && { cert: tls.cert }),
    ...(tls.key && { key: tls.key }),
    ...(config.alpn && { ALPNProtocols: ["x-amzn-mqtt-ca"] }),
    // SNI names a host; RFC 6066 forbids an IP address there.
    ...(url.protocol === "mqtts:" && isIP(url.hostname) === 0 && { servername: url.hostname }),
  };
}
