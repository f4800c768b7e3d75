import { FirehoseClient } from "@aws-sdk/client-firehose";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { S3Client } from "@aws-sdk/client-s3";
import { readFileSync } from "node:fs";
import type { BrokerFixture } from "../../../../test/support/broker-fixture.js";
import { MONITOR } from "../../../../test/support/mosquitto.js";
import { kinesisClient } from "../../lib/kinesis-client.js";
import { Router } from "../../router/router.js";
import type { Monitor } from "../../../../test/support/monitor.js";
import { createPath, MotoServer } from "./moto.js";
import { lakeReadings, streamRecords, type PathReading } from "./path-records.js";

/** The cloud path of a test, local: moto's streams, lake and ledger, and the rule router. */
export interface LocalPath {
  readonly server: MotoServer;
  readonly kinesis: KinesisClient;
  readonly s3: S3Client;
  readonly router: Router;
  /**
   * Once the router has routed every message the monitor saw (the broker gives both the same):
   * the records of the telemetries stream and the readings of the lake.
   */
  settled(monitor: Monitor): Promise<{
    live: { partitionKey: string; reading: PathReading }[];
    lake: PathReading[];
  }>;
  close(): Promise<void>;
}

/**
 * Starts moto with the path's streams, lake and ledger, and a router on the fixture's broker
 * that applies the deployed rule table to what gateways publish. The router reads the broker as
 * the monitor does (its identity may read every topic).
 */
export async function startLocalPath(env: BrokerFixture, clientId: string): Promise<LocalPath> {
  const server = await MotoServer.start();
  const config = server.clientConfig();
  const kinesis = kinesisClient(config);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const firehose = new FirehoseClient(config);
  await createPath({ kinesis, s3, firehose });
  const identity = env.pki.client(MONITOR);
  const router = await Router.connect(
    env.broker.url,
    {
      ca: readFileSync(env.pki.caCert),
      cert: readFileSync(identity.cert),
      key: readFileSync(identity.key),
      clientId,
    },
    { kinesis, firehose, ledger: { s3, bucket: "ledger" } },
  );
  return {
    server,
    kinesis,
    s3,
    router,
    async settled(monitor) {
      await monitor.waitFor(
        () => router.routed >= monitor.topics.length,
        "the router to take every message",
      );
      await router.drained();
      return { live: await streamRecords(kinesis, "telemetries"), lake: await lakeReadings(s3) };
    },
    async close() {
      await router.close();
      await server.stop();
    },
  };
}
