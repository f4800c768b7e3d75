import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DescribeThingCommand,
  IoTClient,
  ListThingPrincipalsCommand,
  ResourceNotFoundException,
} from "@aws-sdk/client-iot";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";

/**
 * What fleet provisioning hands a pre-provisioning hook (payload version 2020-04-01), as far as
 * this hook reads it. The certificate's PEM is in it too, and is never logged.
 */
export interface PreProvisioningEvent {
  readonly claimCertificateId?: string;
  readonly certificateId?: string;
  readonly templateArn?: string;
  readonly clientId?: string;
  readonly parameters?: Readonly<Record<string, unknown>>;
}

export interface PreProvisioningResult {
  readonly allowProvisioning: boolean;
}

export interface HookDeps {
  readonly ddb: DynamoDBDocumentClient;
  readonly iot: IoTClient;
  /** The allow-list: one item per serial the factory made (`serial`), `revoked: true` to bar it. */
  readonly serialsTable: string;
  readonly log: (entry: Record<string, unknown>) => void;
}

/** A serial as the template turns it into a thing name (`gw-<serial>`). */
const SERIAL = /^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$/;

/**
 * The door of fleet provisioning. The claim certificate is the same on every gateway of a batch,
 * so whoever holds one could otherwise enrol any serial, or take over a gateway's thing by
 * enrolling its serial again (AWS recommends a hook for exactly this). A serial is let in only
 * if the factory's allow-list has it, it is not revoked, and no thing of that serial exists yet
 * (or it exists with this very certificate: the same enrolment asked again).
 * A gateway that lost its certificate is re-enrolled by an operator: delete the thing, then let
 * it provision again. Anything the hook cannot check (DynamoDB or IoT failing) refuses: the
 * gateway retries later, and nobody gets in by an outage.
 */
export async function decide(
  event: PreProvisioningEvent,
  deps: HookDeps,
): Promise<PreProvisioningResult> {
  const serial = event.parameters?.SerialNumber;
  const refuse = (reason: string): PreProvisioningResult => {
    deps.log({
      msg: "provisioning refused",
      reason,
      serial: typeof serial === "string" ? serial.slice(0, 64) : null,
      claimCertificateId: event.claimCertificateId,
      clientId: event.clientId,
    });
    return { allowProvisioning: false };
  };
  if (typeof serial !== "string" || !SERIAL.test(serial))
    return refuse("the SerialNumber parameter is missing or not a serial");
  try {
    const listed = await deps.ddb.send(
      new GetCommand({ TableName: deps.serialsTable, Key: { serial }, ConsistentRead: true }),
    );
    if (!listed.Item) return refuse("the serial is not on the factory's allow-list");
    if (listed.Item.revoked === true) return refuse("the serial is revoked");
    const thingName = `gw-${serial}`;
    try {
      await deps.iot.send(new DescribeThingCommand({ thingName }));
      // The same gateway asking again (its answer was lost, and `reefer-edge provision` resumes
      // with the certificate it was given): that certificate is the thing's already.
      const { principals = [] } = await deps.iot.send(
        new ListThingPrincipalsCommand({ thingName }),
      );
      const own =
        event.certificateId && principals.some((arn) => arn.endsWith(`/${event.certificateId}`));
      if (!own) return refuse(`${thingName} is provisioned already`);
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  } catch (error) {
    return refuse(`the hook could not check: ${error instanceof Error ? error.message : "error"}`);
  }
  deps.log({
    msg: "provisioning allowed",
    serial,
    claimCertificateId: event.claimCertificateId,
    clientId: event.clientId,
  });
  return { allowProvisioning: true };
}

function depsFromEnvironment(): HookDeps {
  const table = process.env.SERIALS_TABLE;
  if (!table) throw new Error("pre-provision: SERIALS_TABLE is not set");
  return {
    ddb: DynamoDBDocumentClient.from(new DynamoDBClient({})),
    iot: new IoTClient({}),
    serialsTable: table,
    log: (entry) => console.log(JSON.stringify(entry)),
  };
}

let deps: HookDeps | undefined;

export const handler = (event: PreProvisioningEvent): Promise<PreProvisioningResult> =>
  decide(event, (deps ??= depsFromEnvironment()));
