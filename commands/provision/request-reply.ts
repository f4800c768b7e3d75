import type { MqttClient } from "mqtt";

/** AWS IoT refused a provisioning request: its status and reason. */
export class ProvisioningRefused extends Error {
  constructor(
    readonly step: string,
    readonly body: unknown,
  ) {
    super(`${step}: refused by AWS IoT: ${JSON.stringify(body)}`);
    this.name = "ProvisioningRefused";
  }
}

export class ProvisioningTimeout extends Error {
  constructor(step: string, seconds: number) {
    super(`${step}: no answer within ${seconds} s (run the same command again: it resumes)`);
    this.name = "ProvisioningTimeout";
  }
}

/**
 * One request of the fleet provisioning MQTT API: publish to `topic`, wait for
 * `topic/accepted` or `topic/rejected`. The caller subscribed to both first (AWS sends the
 * answer once, to whoever listens at that moment).
 */
export function requestReply(
  client: MqttClient,
  step: string,
  topic: string,
  body: unknown,
  timeoutSeconds: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off("message", onMessage);
      reject(new ProvisioningTimeout(step, timeoutSeconds));
    }, timeoutSeconds * 1000);
    const onMessage = (received: string, payload: Buffer) => {
      if (received !== `${topic}/accepted` && received !== `${topic}/rejected`) return;
      clearTimeout(timer);
      client.off("message", onMessage);
      let answer: unknown;
      try {
        answer = JSON.parse(payload.toString("utf8"));
      } catch {
        reject(new ProvisioningRefused(step, "an answer that is not JSON"));
        return;
      }
      if (received.endsWith("/rejected") || typeof answer !== "object" || answer === null)
        reject(new ProvisioningRefused(step, answer));
      else resolve(answer as Record<string, unknown>);
    };
    client.on("message", onMessage);
    client.publish(topic, JSON.stringify(body), { qos: 1 }, (error) => {
      if (!error) return;
      clearTimeout(timer);
      client.off("message", onMessage);
      reject(error);
    });
  });
}
