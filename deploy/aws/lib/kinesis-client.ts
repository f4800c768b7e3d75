import { KinesisClient, type KinesisClientConfig } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";

/**
 * A Kinesis client on HTTP/1.1. SDK v3's Kinesis client speaks HTTP/2 by default (for
 * SubscribeToShard, which nothing here uses); the local stand-ins (moto, kinesalite) answer
 * HTTP/1.1 only and refuse the HTTP/2 preface ("Protocol error"). Against AWS both work.
 */
export function kinesisClient(config: KinesisClientConfig = {}): KinesisClient {
  return new KinesisClient({ ...config, requestHandler: new NodeHttpHandler() });
}
