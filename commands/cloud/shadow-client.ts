import { IoTClient, ListThingsCommand } from "@aws-sdk/client-iot";
import {
  GetThingShadowCommand,
  IoTDataPlaneClient,
  PublishCommand,
  ResourceNotFoundException,
  UpdateThingShadowCommand,
} from "@aws-sdk/client-iot-data-plane";

/** A shadow document as AWS IoT returns it. */
export interface ShadowDocument {
  readonly version: number;
  readonly state: {
    readonly desired?: Record<string, unknown>;
    readonly reported?: Record<string, unknown>;
    readonly delta?: Record<string, unknown>;
  };
}

export interface CloudOptions {
  /** The account's IoT data endpoint (`aws iot describe-endpoint --endpoint-type iot:Data-ATS`). */
  readonly endpoint?: string;
  readonly region?: string;
}

/**
 * The operator's side of the shadows and commands, through the AWS SDK's IoT data plane (and the
 * control plane to list things). Credentials and region come from the usual AWS chain.
 */
export class CloudShadows {
  private readonly data: IoTDataPlaneClient;
  private readonly control: IoTClient;

  constructor(options: CloudOptions) {
    const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    this.data = new IoTDataPlaneClient({
      ...(region && { region }),
      ...(options.endpoint && { endpoint: options.endpoint }),
    });
    this.control = new IoTClient({ ...(region && { region }) });
  }

  /** The named shadow's document, or null when the thing has none yet. */
  async get(thing: string, shadow: string): Promise<ShadowDocument | null> {
    try {
      const response = await this.data.send(
        new GetThingShadowCommand({ thingName: thing, shadowName: shadow }),
      );
      return JSON.parse(Buffer.from(response.payload ?? []).toString()) as ShadowDocument;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return null;
      throw error;
    }
  }

  /** Sets desired values (merged by the shadow into what is desired already); the new version. */
  async desire(thing: string, shadow: string, desired: Record<string, unknown>): Promise<number> {
    const response = await this.data.send(
      new UpdateThingShadowCommand({
        thingName: thing,
        shadowName: shadow,
        payload: Buffer.from(JSON.stringify({ state: { desired } })),
      }),
    );
    return (JSON.parse(Buffer.from(response.payload ?? []).toString()) as { version: number })
      .version;
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.data.send(new PublishCommand({ topic, qos: 1, payload: Buffer.from(payload) }));
  }

  /** Every thing of the account (the gateways), page by page. */
  async things(): Promise<string[]> {
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.control.send(new ListThingsCommand({ nextToken, maxResults: 250 }));
      for (const thing of page.things ?? []) if (thing.thingName) names.push(thing.thingName);
      nextToken = page.nextToken;
    } while (nextToken);
    return names;
  }
}
