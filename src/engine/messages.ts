/**
 * Error messages of the service, word for word, kept in one place so that wording stays
 * consistent across operations. Sources for each are listed in docs/kinesis-errors.md.
 */
const limitsPage =
  'Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.';

const seqTypesHelp =
  'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber.';

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** A time as Java's Date.toString() prints it in UTC: `Thu Jul 02 12:57:57 UTC 2015`. */
export function javaDate(ms: number): string {
  const d = new Date(ms);
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(
    d.getUTCMinutes(),
  )}:${two(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

export const messages = {
  streamNotFound: (name: string, account: string) => `Stream ${name} under account ${account} not found.`,
  nameArnMismatch: (name: string, arn: string) =>
    `StreamName ${name} and StreamARN ${arn} do not refer to the same stream.`,
  streamNameOrArnRequired: 'Either StreamName or StreamARN should be provided.',
  streamExists: (name: string, account: string) => `Stream ${name} under account ${account} already exists.`,
  streamNotActive: (name: string, account: string, status: string) =>
    `Stream ${name} under account ${account} not ACTIVE, instead in state ${status}`,
  shardNotFound: (shardId: string, name: string, account: string) =>
    `Shard ${shardId} in stream ${name} under account ${account} does not exist`,
  shardUnresolvable: (shardId: string, name: string, account: string) =>
    `Could not find shard ${shardId} in stream ${name} under account ${account}.`,
  shardCountWithOnDemand: 'ShardCount is not expected when StreamMode=ON_DEMAND',
  tooManyTags: (name: string, account: string) =>
    `Failed to create stream ${name} under account ${account} because a given stream cannot have more than 50 tags associated with it.`,
  shardLimit: (account: string, region: string, current: number, limit: number, requested: number) =>
    `This request would exceed the shard limit for the account ${account} in ${region}. ` +
    `Current shard count for the account: ${current}. Limit: ${limit}. ` +
    `Number of additional shards that would have resulted from this request: ${requested}. ${limitsPage}`,
  listShardsNeedsStream: 'Either NextToken or StreamName should be provided.',
  invalidNextToken: 'NextToken is improperly formatted.',
  expiredNextToken: 'The NextToken has expired. Please restart the listing without a NextToken.',
  nextTokenWith: (member: string) => `NextToken and ${member} cannot be provided together.`,
  filterNeedsShardId: 'ShardId must be supplied in a ShardFilter with a Type of AFTER_SHARD_ID',
  filterNeedsTimestamp:
    'Timestamp must be supplied in a ShardFilter with a Type of FROM_TIMESTAMP or AT_TIMESTAMP',
  invalidHashKey: (value: string) =>
    `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${value}`,
  badOrderingSequence: (seq: string, name: string, account: string) =>
    `ExclusiveMinimumSequenceNumber ${seq} used in PutRecord on stream ${name} under account ${account} is invalid.`,
  dataTooLarge: (path: string, size: number, limit: number) =>
    `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${size} cap=${size}]' at '${path}' failed to satisfy constraint: Member must have length less than or equal to ${limit}`,
  batchTooLarge: 'Records size exceeds 5 MB limit',
  sequenceRequired: (type: string) =>
    `${seqTypesHelp} Request specified ${type} and no StartingSequenceNumber.`,
  sequenceNotExpected: (type: string) =>
    `${seqTypesHelp} Request specified ${type} and also a StartingSequenceNumber.`,
  badSequence: (seq: string, shardId: string, name: string, account: string) =>
    `StartingSequenceNumber ${seq} used in GetShardIterator on shard ${shardId} in stream ${name} under account ${account} is invalid.`,
  foreignSequence: (seq: string, shardId: string, name: string, account: string) =>
    `StartingSequenceNumber ${seq} used in GetShardIterator on shard ${shardId} in stream ${name} under account ${account} is invalid because it did not come from this stream.`,
  otherShardSequence: (encoded: string, used: string) =>
    `Invalid StartingSequenceNumber. It encodes ${encoded}, while it was used in a call to a shard with ${used}`,
  timestampRequired:
    'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.',
  timestampInFuture: (atMs: number, nowMs: number) =>
    `The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: ${atMs}, currentTimestampInMillis: ${nowMs}`,
  invalidIterator: 'Invalid ShardIterator.',
  writeRateExceeded: (shardId: string, name: string, account: string) =>
    `Rate exceeded for shard ${shardId} in stream ${name} under account ${account}.`,
  readRateExceeded: (account: string, name: string, shardId: string) =>
    `Rate exceeded for Shard - ${account}/${name}/${shardId}`,
  onDemandStreamLimit: (account: string, region: string, limit: number) =>
    `This request would exceed the limit of ${limit} ON_DEMAND streams for the account ${account} in ${region}.`,
  autoNeedsOnDemand:
    'The record distribution strategy is only supported for streams in ON_DEMAND capacity mode.',
  // -- consumers
  invalidConsumerArn: (arn: string) => `ConsumerARN ${arn} is not a valid consumer ARN.`,
  consumerRefRequired: 'Either ConsumerARN or both StreamARN and ConsumerName should be provided.',
  consumerExists: (consumer: string, stream: string, account: string) =>
    `Consumer ${consumer} under stream ${stream} and account ${account} already exists.`,
  consumerLimit: (stream: string, account: string, max: number) =>
    `Stream ${stream} under account ${account} already has ${max} registered consumers, the most a stream can have.`,
  consumerNotActive: (consumer: string, created: number, stream: string, account: string) =>
    `Consumer ${consumer} with creation timestamp ${created} under stream ${stream} and account ${account} is not in ACTIVE status.`,
  subscriptionExists: (account: string, stream: string, shardId: string, consumer: string) =>
    `Another active subscription exists for this consumer: ${account}:${stream}:${shardId}:${consumer}`,
  streamHasConsumers: (arn: string, name: string) =>
    `DeleteStream can't delete ${arn} because there are consumers associated with this data stream. To delete ${name} anyway, set the EnforceConsumerDeletion parameter to true to force the deletion of all the consumers that are associated with it.`,
  tooManySubscriptions: (max: number) =>
    `This server already serves ${max} SubscribeToShard subscriptions, its limit; try again later.`,
  // -- resharding
  splitHashKey: (key: string, shardId: string, name: string, account: string, start: string, end: string) =>
    `NewStartingHashKey ${key} used in SplitShard() on shard ${shardId} in stream ${name} under account ${account} is not both greater than one plus the shard's StartingHashKey ${start} and less than the shard's EndingHashKey ${end}.`,
  notAdjacent: (a: string, b: string, name: string, account: string) =>
    `Shards ${a} and ${b} in stream ${name} under account ${account} are not an adjacent pair of shards eligible for merging`,
  shardClosed: (shardId: string, name: string, account: string) =>
    `Shard ${shardId} in stream ${name} under account ${account} has already been merged or split, and thus is not eligible for merging or splitting.`,
  scaleOverLimit: (limit: number, open: number, target: number) =>
    `Target shard count or number of open shards cannot be greater than ${limit}. Current open shard count: ${open}, Target shard count: ${target}`,
  scaleUpTooFar: (open: number, target: number) =>
    `UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: ${open}, Target shard count: ${target}`,
  scaleDownTooFar: (open: number, target: number) =>
    `UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: ${open}, Target shard count: ${target}`,
  scaleTooOften: (name: string, account: string, max: number) =>
    `Exceeded the limit of ${max} UpdateShardCount calls in a rolling 24-hour period for stream ${name} under account ${account}.`,
  modeUnchanged: (name: string, mode: string) => `Stream ${name} is already in ${mode} mode.`,
  modeSwitchTooOften: (name: string, account: string) =>
    `Stream ${name} under account ${account} has exceeded the limit of 2 capacity mode switches in a rolling 24-hour period.`,
  provisionedOnly: (operation: string, name: string) =>
    `${operation} is not supported for stream ${name} in ON_DEMAND mode.`,
  expiredIterator: (issuedMs: number, nowMs: number, ttlMs: number) =>
    `Iterator expired. The iterator was created at time ${javaDate(issuedMs)} while right now it is ${javaDate(nowMs)} which is further in the future than the tolerated delay of ${ttlMs} milliseconds.`,
  // Settings operations: src/engine/settings.ts says where each of these comes from.
  kmsInvalidKeyId: (keyId: string) => `Invalid keyId ${keyId}`,
  kmsKeyNotFound: (arn: string) => `Key '${arn}' does not exist`,
  kmsAliasNotFound: (arn: string) => `Alias ${arn} is not found.`,
  encryptionTypeNotKms: (type: string, operation: string) =>
    `EncryptionType ${type} is not supported by ${operation}. The only valid value is KMS.`,
  streamNotEncrypted: (name: string, account: string) =>
    `Stream ${name} under account ${account} is not encrypted.`,
  encryptionKeyMismatch: (keyId: string, name: string, account: string) =>
    `KeyId ${keyId} is not the key stream ${name} under account ${account} is encrypted with.`,
  warmThroughputNeedsOnDemand: (name: string, account: string) =>
    `Warm throughput is only supported for streams in ON_DEMAND capacity mode. Stream ${name} under account ${account} is in PROVISIONED mode.`,
  warmThroughputNeedsCommitment: (account: string) =>
    `Warm throughput requires MinimumThroughputBillingCommitment to be enabled for account ${account}.`,
  warmThroughputTooHigh: (requested: number, limit: number) =>
    `WarmThroughputMiBps ${requested} exceeds the limit of ${limit} MiBps for an on-demand stream.`,
  // Metadata operations (src/engine/metadata.ts): tags, resource policies, retention.
  // Sources in docs/kinesis-errors.md 3.11 and in metadata.ts.
  tagsInvalidCharacters:
    'Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @ :.',
  tagsIllegalCharacters: (change: 'add' | 'remove', name: string, account: string) =>
    `Failed to ${change === 'add' ? 'add tags to' : 'remove tags from'} stream ${name} under account ${account} because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'.`,
  tooManyStreamTags: (name: string, account: string) =>
    `Failed to add tags to stream ${name} under account ${account} because a given stream cannot have more than 50 tags associated with it.`,
  consumerNotFound: (consumer: string, created: string | undefined, stream: string, account: string) =>
    `Consumer ${consumer}${created === undefined ? '' : ` with creation timestamp ${created}`} under stream ${stream} and account ${account} not found.`,
  noResourcePolicy: (arn: string) => `No resource policy found for resource ARN ${arn}.`,
  policyInvalidJson: 'This policy contains invalid Json',
  policySyntax: 'Syntax errors in policy.',
  policyVersion: 'Policy document must be version 2012-10-17 or greater.',
  policySidsNotUnique: 'Statement IDs (SID) in a single policy must be unique.',
  policyNoActions: 'Policy statement must contain actions.',
  policyNoResources: 'Policy statement must contain resources.',
  policyResourceFormat: (resource: string) => `Resource ${resource} must be in ARN format or "*".`,
  policyNoPrincipal: 'Missing required field Principal',
  policyInvalidPrincipal: 'Invalid principal in policy',
  policyActionVendor: 'Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.',
  policyActionColons: 'Actions/Condition can contain only one colon.',
  policyTooLarge: (size: number, limit: number) =>
    `Policy size ${size} bytes exceeds the maximum allowed size of ${limit} bytes.`,
  retentionTooShort: (hours: number, min: number) =>
    `Minimum allowed retention period is ${min} hours. Requested retention period (${hours} hours) is too short.`,
  retentionTooLong: (hours: number, max: number) =>
    `Maximum allowed retention period is ${max} hours. Requested retention period (${hours} hours) is too long.`,
  retentionBelowCurrent: (hours: number, name: string, current: number) =>
    `Requested retention period (${hours} hours) for stream ${name} can not be shorter than existing retention period (${current} hours). Use DecreaseRetentionPeriod API.`,
  retentionAboveCurrent: (hours: number, name: string, current: number) =>
    `Requested retention period (${hours} hours) for stream ${name} can not be longer than existing retention period (${current} hours). Use IncreaseRetentionPeriod API.`,
};
