/**
 * Error messages of the service, word for word (see docs/kinesis-errors.md for where each comes
 * from). Kept in one place so that wording stays consistent across operations.
 */
const limitsPage =
  'Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.';

export const messages = {
  streamNotFound: (name: string, account: string) => `Stream ${name} under account ${account} not found.`,
  streamArnNotFound: (arn: string) => `Stream ${arn} not found.`,
  streamIdNotFound: (id: string, account: string) => `Stream with id ${id} under account ${account} not found.`,
  nameArnMismatch: (name: string, arn: string) =>
    `StreamName ${name} and StreamARN ${arn} do not refer to the same stream.`,
  streamNameOrArnRequired: 'Either StreamName or StreamARN should be provided.',
  streamExists: (name: string, account: string) => `Stream ${name} under account ${account} already exists.`,
  streamBusy: (name: string, account: string) =>
    `Stream ${name} under account ${account} is being modified; try again.`,
  streamCreating: (name: string, account: string) =>
    `Stream ${name} under account ${account} is not ACTIVE; it is CREATING.`,
  shardNotFound: (shardId: string, name: string, account: string) =>
    `Shard ${shardId} in stream ${name} under account ${account} does not exist`,
  shardCountRequired: 'ShardCount is required for streams in PROVISIONED mode.',
  shardCountWithOnDemand: 'ShardCount is not supported for streams in ON_DEMAND mode.',
  tooManyTags: 'Failed to create stream: the number of tags exceeds the limit of 50.',
  shardLimit: (account: string, region: string, current: number, limit: number, requested: number) =>
    `This request would exceed the shard limit for the account ${account} in ${region}. ` +
    `Current shard count for the account: ${current}. Limit: ${limit}. ` +
    `Number of additional shards that would have resulted from this request: ${requested}. ${limitsPage}`,
  invalidNextToken: 'Invalid NextToken.',
  expiredNextToken: 'The timestamp sent in the NextToken has expired. Please restart your ListShards call.',
  nextTokenWithStreamName: 'NextToken and StreamName cannot be provided together.',
  nextTokenWithStartShard: 'NextToken and ExclusiveStartShardId cannot be provided together.',
  nextTokenWithFilter: 'NextToken and ShardFilter cannot be provided together.',
  nextTokenWithTimestamp: 'NextToken and StreamCreationTimestamp cannot be provided together.',
  filterNeedsShardId: 'Must specify ShardId when using AFTER_SHARD_ID ShardFilter type.',
  filterNeedsTimestamp: (type: string) => `Must specify Timestamp when using ${type} ShardFilter type.`,
  filterTakesNothing: (type: string) => `ShardId and Timestamp are not supported for ${type} ShardFilter type.`,
  invalidHashKey: (value: string) =>
    `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${value}`,
  recordTooLarge: (size: number, limit: number, index: number | undefined) =>
    index === undefined
      ? `Record size ${size} exceeds the maximum record size of ${limit} bytes.`
      : `Record ${index} has size ${size}, which exceeds the maximum record size of ${limit} bytes.`,
  batchTooLarge: (size: number) => `Records size ${size} exceeds 5 MB limit`,
  sequenceRequired: (type: string) =>
    `Must specify a StartingSequenceNumber for ShardIteratorType ${type}.`,
  badSequence: (seq: string, shardId: string, name: string, account: string) =>
    `StartingSequenceNumber ${seq} used in GetShardIterator on shard ${shardId} in stream ${name} under account ${account} is invalid.`,
  timestampRequired: 'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.',
  timestampInFuture: (at: number) =>
    `The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: ${at}, currentTimestampInMillis: ${Date.now()}`,
  invalidIterator: 'Invalid ShardIterator.',
  expiredIterator: (issuedMs: number, nowMs: number, ttlMs: number) =>
    `Iterator expired. The iterator was created at time ${new Date(issuedMs).toUTCString()} while right now it is ${new Date(nowMs).toUTCString()} which is further in the future than the tolerated delay of ${ttlMs} milliseconds.`,
};
