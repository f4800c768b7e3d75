import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  IoTClient,
} from "@aws-sdk/client-iot";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decide, type HookDeps } from "../lambda/pre-provision/handler.js";
import { MotoServer, requireMoto } from "./support/moto.js";

const moto = requireMoto();

/** A provisioning request as AWS IoT hands it to the hook (payload version 2020-04-01). */
function request(parameters: Record<string, unknown>) {
  return {
    claimCertificateId: "claim-cert-batch-7",
    certificateId: "new-cert-id",
    certificatePem: "-----BEGIN CERTIFICATE-----\nnever logged\n-----END CERTIFICATE-----",
    templateArn: "arn:aws:iot:us-east-1:123456789012:provisioningtemplate/reefer-gateway",
    clientId: "claim-0042",
    parameters,
  };
}

describe.skipIf(moto.skip)("the pre-provisioning hook against moto", () => {
  let server: MotoServer;
  let deps: HookDeps;
  const logged: Record<string, unknown>[] = [];
  let enrolledCertificate = "";

  beforeAll(async () => {
    server = await MotoServer.start();
    const config = server.clientConfig();
    const ddb = new DynamoDBClient(config);
    await ddb.send(
      new CreateTableCommand({
        TableName: "serials",
        KeySchema: [{ AttributeName: "serial", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "serial", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    const doc = DynamoDBDocumentClient.from(ddb);
    for (const item of [
      { serial: "SN1001" },
      { serial: "SN1002" },
      { serial: "SN1003", revoked: true },
    ])
      await doc.send(new PutCommand({ TableName: "serials", Item: item }));
    const iot = new IoTClient(config);
    // SN1002's gateway enrolled before: its thing exists, with its certificate.
    await iot.send(new CreateThingCommand({ thingName: "gw-SN1002" }));
    const cert = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    enrolledCertificate = cert.certificateId ?? "";
    await iot.send(
      new AttachThingPrincipalCommand({ thingName: "gw-SN1002", principal: cert.certificateArn }),
    );
    deps = { ddb: doc, iot, serialsTable: "serials", log: (entry) => logged.push(entry) };
  }, 60_000);
  afterAll(async () => {
    await server.stop();
  });

  it("lets in a serial the factory listed that has no thing yet", async () => {
    expect(await decide(request({ SerialNumber: "SN1001" }), deps)).toEqual({
      allowProvisioning: true,
    });
  });

  it.each([
    [
      "a serial not on the allow-list",
      { SerialNumber: "SN9999" },
      "not on the factory's allow-list",
    ],
    [
      "a serial provisioned already (taking over its thing)",
      { SerialNumber: "SN1002" },
      "gw-SN1002 is provisioned already",
    ],
    ["a revoked serial", { SerialNumber: "SN1003" }, "revoked"],
    ["no serial", {}, "missing or not a serial"],
    ["a serial that is no thing name", { SerialNumber: "../gw-admin" }, "missing or not a serial"],
  ])("refuses %s, and logs why without the certificate", async (_, parameters, reason) => {
    logged.length = 0;
    expect(await decide(request(parameters), deps)).toEqual({ allowProvisioning: false });
    expect(logged).toEqual([
      expect.objectContaining({
        msg: "provisioning refused",
        reason: expect.stringContaining(reason) as string,
      }),
    ]);
    expect(JSON.stringify(logged)).not.toContain("BEGIN CERTIFICATE");
  });

  it("lets the same enrolment ask again: the thing exists with this very certificate", async () => {
    const again = { ...request({ SerialNumber: "SN1002" }), certificateId: enrolledCertificate };
    expect(await decide(again, deps)).toEqual({ allowProvisioning: true });
  });

  it("refuses when it cannot check (the allow-list unreachable): an outage lets no one in", async () => {
    const broken = { ...deps, serialsTable: "no-such-table" };
    expect(await decide(request({ SerialNumber: "SN1001" }), broken)).toEqual({
      allowProvisioning: false,
    });
  });
});
