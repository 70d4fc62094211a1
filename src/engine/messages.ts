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
  expiredIterator: (issuedMs: number, nowMs: number, ttlMs: number) =>
    `Iterator expired. The iterator was created at time ${javaDate(issuedMs)} while right now it is ${javaDate(nowMs)} which is further in the future than the tolerated delay of ${ttlMs} milliseconds.`,
};
