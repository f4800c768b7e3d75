import { lookup } from "node:dns/promises";
import { connect as tcpConnect, isIP } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { AgentConfig } from "../../config/schema.js";
import { mqttClientOptions } from "../../agent/publisher/client-options.js";
import { describeConnectionError } from "../../agent/publisher/errors.js";
import { connect as mqttConnect } from "../../agent/publisher/mqtt-connect.js";
import type { TlsMaterial } from "../../agent/publisher/tls.js";
import { fail, pass, skip, type Verdict } from "./verdict.js";

/** What the broker checks may do. */
export interface BrokerCheckOptions {
  /** Try an MQTT CONNECT as the gateway (it would take the client id from a running agent). */
  readonly mqttConnect: boolean;
  readonly timeoutMs: number;
}

/**
 * The way to the broker, one layer at a time, so a technician sees where it breaks: the name
 * resolves, a TCP connection opens, the TLS handshake (both certificates) succeeds, the broker
 * accepts an MQTT CONNECT as this gateway.
 */
export async function checkBroker(
  config: AgentConfig,
  tls: TlsMaterial | null,
  options: BrokerCheckOptions,
): Promise<Verdict[]> {
  const url = new URL(config.mqtt.url);
  const secure = url.protocol === "mqtts:";
  const port = Number(url.port || (secure ? 8883 : 1883));
  const verdicts: Verdict[] = [];
  let address = url.hostname.replace(/^\[|\]$/g, "");
  if (isIP(address) === 0) {
    try {
      address = (await lookup(address)).address;
      verdicts.push(pass("DNS", `${url.hostname} is ${address}`));
    } catch (error) {
      verdicts.push(
        fail(
          "DNS",
          `cannot resolve ${url.hostname} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
          "check the gateway's DNS (resolvectl status) and the endpoint in mqtt.url",
        ),
      );
      return verdicts;
    }
  }
  const tcp = await openTcp(address, port, options.timeoutMs);
  if (tcp !== null) {
    verdicts.push(
      fail(
        "TCP",
        `${address}:${port}: ${tcp}`,
        "is the broker up, and the port right? Behind a firewall AWS IoT Core needs 8883, or 443 with mqtt.alpn: true",
      ),
    );
    return verdicts;
  }
  verdicts.push(pass("TCP", `${address}:${port} accepts connections`));
  if (secure) {
    if (!tls) {
      verdicts.push(skip("TLS handshake", "not tried: a TLS file failed its check (see above)"));
      return verdicts;
    }
    const problem = await tlsHandshake(config, tls, address, port, options.timeoutMs);
    if (problem) {
      verdicts.push(fail("TLS handshake", problem.message, fixFor(problem.kind)));
      return verdicts;
    }
    verdicts.push(
      pass("TLS handshake", "the broker's certificate is trusted and ours was accepted"),
    );
  }
  if (!options.mqttConnect) {
    verdicts.push(
      skip(
        "MQTT CONNECT",
        "another agent holds the outbox and would be disconnected by a CONNECT with its client id",
      ),
    );
    return verdicts;
  }
  const refused = await tryConnect(config, tls, options.timeoutMs);
  verdicts.push(
    refused === null
      ? pass("MQTT CONNECT", `accepted as ${config.gateway.id}`)
      : fail("MQTT CONNECT", refused.message, fixFor(refused.kind)),
  );
  return verdicts;
}

function fixFor(kind: string): string {
  return kind === "credentials"
    ? "check the certificate is registered and active for this thing, its policy, and mqtt.ca"
    : kind === "protocol"
      ? "check mqtt.protocolVersion and mqtt.url"
      : "check the network path to the broker";
}

function openTcp(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer within ${timeoutMs / 1000} s`);
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(null);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(
        error.code === "ECONNREFUSED" ? "connection refused: nothing listens there" : error.message,
      );
    });
  });
}

/**
 * A TLS handshake with the gateway's files. In TLS 1.3 the broker judges the client certificate
 * after the client thinks the handshake is done: its alert arrives just after, so a short wait
 * follows a successful handshake.
 */
function tlsHandshake(
  config: AgentConfig,
  tls: TlsMaterial,
  address: string,
  port: number,
  timeoutMs: number,
): Promise<{ kind: string; message: string } | null> {
  const options = mqttClientOptions(config.gateway.id, config.mqtt, tls);
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: { kind: string; message: string } | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    let socket: ReturnType<typeof tlsConnect>;
    try {
      socket = tlsConnect({
        host: address,
        port,
        ...(options.ca && { ca: options.ca }),
        ...(options.cert && { cert: options.cert }),
        ...(options.key && { key: options.key as Buffer }),
        ...(options.servername !== undefined && { servername: options.servername }),
        ...(options.ALPNProtocols && { ALPNProtocols: options.ALPNProtocols as string[] }),
        rejectUnauthorized: true,
      });
    } catch (error) {
      // A key that does not fit its certificate fails here, before any byte is sent.
      resolve({
        kind: "credentials",
        message: `the TLS files cannot be used together: ${(error as Error).message}`,
      });
      return;
    }
    const timer = setTimeout(
      () => done({ kind: "network", message: `no handshake within ${timeoutMs / 1000} s` }),
      timeoutMs,
    );
    socket.once("secureConnect", () => setTimeout(() => done(null), 500));
    socket.once("error", (error) => done(describeConnectionError(error)));
  });
}

function tryConnect(
  config: AgentConfig,
  tls: TlsMaterial | null,
  timeoutMs: number,
): Promise<{ kind: string; message: string } | null> {
  return new Promise((resolve) => {
    const client = mqttConnect(config.mqtt.url, {
      ...mqttClientOptions(config.gateway.id, config.mqtt, tls ?? { warnings: [] }),
      connectTimeout: timeoutMs,
    });
    const done = (result: { kind: string; message: string } | null) => {
      client.end(true);
      resolve(result);
    };
    client.once("connect", () => done(null));
    client.once("error", (error) => done(describeConnectionError(error)));
    client.once("close", () =>
      done({ kind: "network", message: "the broker closed the connection" }),
    );
  });
}
