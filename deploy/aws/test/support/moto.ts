import { CreateTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
export { LOCAL_AWS, MotoServer, requireMoto } from "../../../../test/support/moto.js";

/** The act Lambda's table as the Act stack makes it: one item per alert, keyed by alert_id. */
export async function createAlertsTable(ddb: DynamoDBClient, name: string): Promise<void> {
  await ddb.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: "alert_id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "alert_id", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
}
