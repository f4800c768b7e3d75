import { Duration, Stack, type StackProps } from "aws-cdk-lib";
import { StageNames } from "./stage-names.js";
import { Stream, StreamEncryption, StreamMode } from "aws-cdk-lib/aws-kinesis";
import type { Construct } from "constructs";
import type { StreamName } from "./rule-table.js";

/** How many shards, or on-demand: bin/app.ts decides from the fleet's load (lib/sizing.ts). */
export type StreamCapacity = { readonly mode: "on-demand" } | { readonly shards: number };

export interface StreamsProps extends StackProps {
  readonly telemetriesCapacity: StreamCapacity;
  readonly faultyReefersCapacity: StreamCapacity;
}

/**
 * The two Kinesis streams of the data path, in a stack of their own because both sides of the
 * path use them: the Ingest rules write to them, the Lake's Firehose and the Act Lambda read
 * them (one stack holding both the rules and the lake would make a cycle with the backfill).
 * Encrypted with the Kinesis-managed key; a week of retention, as the landing zone holds.
 */
export class StreamsStack extends Stack {
  readonly streams: Readonly<Record<StreamName, Stream>>;

  constructor(scope: Construct, id: string, props: StreamsProps) {
    super(scope, id, props);
    const stream = (construct: string, name: StreamName, capacity: StreamCapacity) =>
      new Stream(this, construct, {
        streamName: StageNames.of(this).dash(name),
        encryption: StreamEncryption.MANAGED,
        retentionPeriod: Duration.days(7),
        ...("shards" in capacity
          ? { streamMode: StreamMode.PROVISIONED, shardCount: capacity.shards }
          : { streamMode: StreamMode.ON_DEMAND }),
      });
    this.streams = {
      telemetries: stream("Telemetries", "telemetries", props.telemetriesCapacity),
      "faulty-reefers": stream("FaultyReefers", "faulty-reefers", props.faultyReefersCapacity),
    };
  }
}
