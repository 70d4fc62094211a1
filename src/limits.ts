/**
 * Every limit, bound and default of Sluice lives here, each with its reason.
 * Units are in the names. Runtime-configurable values are defaults for `Config`.
 */

/** Kinesis service limits and defaults (AWS documentation, API model). */
export const kinesis = {
  /** Account and region reported in ARNs; local deployments have no real account. */
  defaultAccountId: '000000000000',
  defaultRegion: 'us-east-1',
  /** AWS default per-account shard quota in us-east-1, the default region (--shard-limit). */
  defaultShardLimit: 500,
  /** CreateStream accepts at most 50 tags (the TagMap shape allows 200 for TagResource). */
  createStreamMaxTags: 50,
  /** ON_DEMAND streams start with 4 shards (AWS default on-demand write capacity 4 MiB/s). */
  onDemandInitialShards: 4,
  /** Retention bounds and default (hours), per the service. */
  retentionDefaultHours: 24,
  retentionMinHours: 24,
  retentionMaxHours: 8760,
  /** Record size counted as data + partition key; 1 MiB by default. */
  maxRecordSizeBytes: 1024 * 1024,
  /** PutRecords accepts at most 500 records and 5 MiB per request (service limit). */
  putRecordsMaxRecords: 500,
  putRecordsMaxBytes: 5 * 1024 * 1024,
  /** GetRecords returns at most 10,000 records or 10 MiB per call. */
  getRecordsMaxRecords: 10_000,
  getRecordsMaxBytes: 10 * 1024 * 1024,
  /** Shard iterators are valid for 5 minutes. */
  iteratorTtlMs: 5 * 60 * 1000,
  /** DescribeStream returns at most 100 shards per page (model: Limit 1..10000, default 100). */
  describeStreamDefaultShards: 100,
  /** ListShards pages default and maximum (model: MaxResults 1..10000, default 1000 per docs). */
  listShardsDefaultResults: 1000,
  listShardsMaxResults: 10_000,
  /** ListStreams default page size (service default 100 when Limit is absent). */
  listStreamsDefaultLimit: 100,
  /** ListShards/ListStreams NextToken lifetime: 300 s, after which ExpiredNextTokenException. */
  nextTokenTtlMs: 300 * 1000,
  /** Hash key space upper bound (2^128 - 1). */
  maxHashKey: (1n << 128n) - 1n,
} as const;

/** Sluice's own bounds on the server process. */
export const server = {
  /** Largest request body accepted: PutRecords 5 MiB of data base64-encoded (x4/3) plus JSON
   * overhead, or a 10 MiB record after UpdateMaxRecordSize, base64-encoded. */
  maxBodyBytes: 16 * 1024 * 1024,
  /** Time allowed to receive a whole request body before the request is answered with an error
   * (protects against slow clients holding memory). */
  bodyTimeoutMs: 30_000,
  /** Idle keep-alive sockets are closed after this long (AWS SDKs keep connections for reuse). */
  keepAliveTimeoutMs: 65_000,
  /** A new connection must send its first bytes within this time or it is closed. */
  firstBytesTimeoutMs: 10_000,
  /** HTTP/1.1 header size bound (Node's default is 16 KiB; SigV4 headers fit easily). */
  maxHeaderBytes: 16 * 1024,
  /** Concurrent HTTP/2 streams per connection advertised to clients. */
  http2MaxConcurrentStreams: 256,
  /** Time to wait for in-flight requests when shutting down. */
  shutdownGraceMs: 5_000,
} as const;

/** Defaults for the engine's observable transitions. */
export const engine = {
  /** How long a new stream stays CREATING, and a deleted one DELETING (observable states). */
  createStreamMs: 500,
  deleteStreamMs: 500,
  /** How often retention trimming runs. */
  trimIntervalMs: 60_000,
  /** Compare-and-set attempts on a stream document before a change gives up as contended. */
  casAttempts: 5,
  /** Rows deleted per trimming/deletion step, so one step never blocks the event loop long. */
  trimBatchRows: 10_000,
} as const;
