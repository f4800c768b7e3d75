import { Duration, RemovalPolicy } from "aws-cdk-lib";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectOwnership,
  StorageClass,
  type LifecycleRule,
} from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";

/**
 * A bucket as every bucket of this app is made: encrypted, versioned, no public access, TLS
 * only, its access logged to `logs` (the access-log bucket itself logs nowhere), and kept when
 * the stack is deleted (the lake is the record of every reading).
 */
export function secureBucket(
  scope: Construct,
  id: string,
  options: { readonly logs?: Bucket; readonly lifecycleRules?: LifecycleRule[] } = {},
): Bucket {
  return new Bucket(scope, id, {
    encryption: BucketEncryption.S3_MANAGED,
    versioned: true,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: RemovalPolicy.RETAIN,
    ...(options.logs
      ? { serverAccessLogsBucket: options.logs, serverAccessLogsPrefix: `${id}/` }
      : {}),
    lifecycleRules: [
      {
        noncurrentVersionExpiration: Duration.days(30),
        abortIncompleteMultipartUploadAfter: Duration.days(7),
      },
      ...(options.lifecycleRules ?? []),
    ],
  });
}

/** Readings grow cold: infrequent access after a month, Glacier Instant Retrieval after three. */
export const COLDER_WITH_AGE: LifecycleRule = {
  transitions: [
    { storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) },
    { storageClass: StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) },
  ],
};
