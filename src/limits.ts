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
  /** UpdateShardCount: at most 10 calls per stream in a rolling 24 hours; 10,000 shards per
   * stream at most (AWS UpdateShardCount documentation). */
  shardCountUpdatesPerDay: 10,
  maxShardsPerStream: 10_000,
  /** UpdateStreamMode: two capacity mode switches per stream in a rolling 24 hours (AWS docs). */
  modeSwitchesPerDay: 2,
  /** Per-shard write capacity: 1 MiB/s or 1,000 records/s; reads: 2 MiB/s and 5 GetRecords
   * calls/s (service limits; `--throughput aws`, the default). */
  shardWriteBytesPerSec: 1024 * 1024,
  shardWriteRecordsPerSec: 1000,
  shardReadBytesPerSec: 2 * 1024 * 1024,
  shardReadCallsPerSec: 5,
  /** Enhanced fan-out: 20 registered consumers per stream (service limit); ListStreamConsumers
   * pages default to 100. */
  consumersPerStream: 20,
  listConsumersDefaultResults: 100,
  /** SubscribeToShard: a subscription lasts 5 minutes; the same consumer and shard cannot
   * subscribe again within 5 seconds. */
  subscriptionLifetimeMs: 5 * 60 * 1000,
  resubscribeWaitMs: 5_000,
  /** Each subscriber may read 2 MiB/s per shard (enhanced fan-out). */
  subscriberBytesPerSec: 2 * 1024 * 1024,
  /** Hash key space upper bound (2^128 - 1). */
  maxHashKey: (1n << 128n) - 1n,
  /** A stream has at most 50 tags (AddTagsToStream/TagResource documentation). The TagMap shape
   * allows 200 per call and the per-call limit of 10 is gone from the documentation ("a set of up to
   * 50 key-value pairs"), so the total is the only tag-count rule. */
  streamMaxTags: 50,
  /** ListTagsForStream without Limit: every tag (the model's Limit maximum is 50, the tag maximum);
   * the service's default is not documented. */
  listTagsForStreamDefaultLimit: 50,
  /** Resource policy size. Kinesis documents no maximum; 20 KiB is the bound of the resource
   * policies of SQS, Lambda and DynamoDB, and keeps the stream document small. */
  resourcePolicyMaxBytes: 20 * 1024,
  /** Streams in ON_DEMAND mode allowed per account by default, reported by DescribeLimits
   * (Kinesis developer guide, "Quotas and limits": up to 50 on-demand data streams). */
  onDemandStreamCountLimit: 50,
  /** Write throughput of a new on-demand stream (4 MB/s, "Quotas and limits"): the CurrentMiBps
   * of its warm throughput until UpdateStreamWarmThroughput raises it. */
  onDemandDefaultWriteMiBps: 4,
  /** UpdateStreamWarmThroughput cannot scale an on-demand stream past 10 GiBps by default. */
  warmThroughputMaxMiBps: 10 * 1024,
  /** A minimum throughput billing commitment lasts at least 24 hours before it can be disabled
   * (MinimumThroughputBillingCommitmentInput). */
  billingCommitmentMinMs: 24 * 60 * 60 * 1000,
  /** SigV4: X-Amz-Date may differ from the server's clock by 5 minutes either way; past that the
   * service answers InvalidSignatureException `Signature expired: ... (<now> - 5 min.)` or
   * `Signature not yet current: ... (<now> + 5 min.)` (Kinesis clients' reports, e.g.
   * remind101/logspout-kinesis#21, s12v/awsbeats#48). */
  signatureMaxSkewMs: 5 * 60 * 1000,
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
  /** A request's headers must arrive within this time (slow-header clients are cut off). */
  headersTimeoutMs: 10_000,
  /** HTTP/1.1 header size bound (Node's default is 16 KiB; SigV4 headers fit easily). */
  maxHeaderBytes: 16 * 1024,
  /** Concurrent HTTP/2 streams per connection advertised to clients. */
  http2MaxConcurrentStreams: 256,
  /** SubscribeToShard subscriptions served at once by one server: each holds a timer, an append
   * listener and at most one event in memory (about 2 MiB). */
  maxSubscriptions: 1_000,
  /** A subscription with nothing new still gets an event this often (ContinuationSequenceNumber). */
  subscribeIdleEventMs: 1_000,
  /** Time to wait for in-flight requests when shutting down. */
  shutdownGraceMs: 5_000,
} as const;

/** The resource guard (src/fleet/guard.ts) and admission control (src/server/admission.ts). */
export const guard = {
  /** Alarm at 80% of every limit: shed and report before the limit is hit. */
  alarmFraction: 0.8,
  /** Open connections (HTTP/1.1 sockets and HTTP/2 sessions together); further ones are closed at
   * accept. Far below the open-file limit (20,000 here), leaving room for the store and peers. */
  maxConnections: 4_096,
  /** Requests being served at once; past it new ones get 503 before their body is read. A
   * PutRecords of 500 records costs a few ms of the one event loop, so 128 in flight is already
   * about half a second of queued work: more would only add latency (measured: at 512, served
   * calls waited ~470 ms under 3x overload). */
  maxInFlightRequests: 128,
  /** Request body bytes held at once (received so far by requests in flight): bounds the memory
   * of bodies to 256 MiB whatever their sizes. */
  maxInFlightBodyBytes: 256 * 1024 * 1024,
  /** SubscribeToShard subscriptions at once (mirrors server.maxSubscriptions). */
  maxSubscriptions: 1_000,
  /** Event-loop delay (p99 over each window): alarm at 200 ms, broken at 2 s. */
  loopDelayWindowMs: 5_000,
  loopDelayAlarmMs: 200,
  maxLoopDelayMs: 2_000,
  /** Used when /proc/self/limits cannot be read. */
  defaultOpenFileLimit: 1_024,
  /** Every request must be answered within this time, or it gets 503 (a stuck store must not
   * hold a client forever); SubscribeToShard streams are exempt. */
  requestDeadlineMs: 10_000,
  /** How often admission control re-reads the heap and loop-delay alarms (ms). */
  pressureCheckMs: 250,
  /** Distinct per-shard metric series exported; past it new shards are counted under `_other`. */
  maxShardSeries: 10_000,
} as const;

/** Defaults for the engine's observable transitions. */
export const engine = {
  /** How long a new stream stays CREATING, and a deleted one DELETING (observable states). */
  createStreamMs: 500,
  deleteStreamMs: 500,
  /** How long a stream stays UPDATING after a resharding or another control change. */
  updateStreamMs: 500,
  /** How often retention trimming runs. */
  trimIntervalMs: 60_000,
  /** Wait before trying again to end a transient status the store refused to record. */
  transitionRetryMs: 1_000,
  /** Compare-and-set attempts on a stream document before a change gives up as contended. */
  casAttempts: 5,
  /** Rows deleted per trimming/deletion step, so one step never blocks the event loop long. */
  trimBatchRows: 10_000,
} as const;

/** Fault injection, the dependents map, scenarios and rehearsals (src/chaos). */
export const chaos = {
  /** Fault rules held at once (set by the admin API, a faults file or a scenario): each is checked
   * on every request, so the bound keeps that check to microseconds. */
  maxRules: 100,
  /** Entries in each of a rule's match lists (operations, streams, shards, callers). */
  maxMatchEntries: 100,
  /** Added latency per request, whatever the distribution draws: past the request deadline
   * (guard.requestDeadlineMs, 10 s) the client gets the deadline's 503 anyway. */
  maxLatencyMs: 30_000,
  /** An injected hang ends when the client gives up or, at the latest, after this (the request
   * is then reset), so a client without a timeout cannot hold a request forever. */
  defaultHangMs: 30_000,
  maxHangMs: 5 * 60 * 1000,
  /** A SubscribeToShard cut happens at the latest when the subscription would end anyway. */
  maxCutAfterMs: 5 * 60 * 1000,
  /** A rule's start offset, duration and ramp: at most 7 days (a rule without a duration lasts
   * until it is removed). */
  maxRuleSpanMs: 7 * 24 * 60 * 60 * 1000,
  /** Longest wall-clock time a scenario may take once its speed is applied. */
  maxScenarioWallMs: 24 * 60 * 60 * 1000,
  /** The admin API: 127.0.0.1 only; `sluice faults`, `dependents` and `rehearse` look here by
   * default. Off unless `--admin-port` is given. */
  defaultAdminPort: 4569,
  adminMaxBodyBytes: 1024 * 1024,
  adminMaxConnections: 32,
  adminRequestTimeoutMs: 10_000,
  /** The dependents map: callers (access key id + user agent product, or source address) and
   * stream-caller-role edges kept, least recently seen evicted first; about 1 KiB each. */
  maxCallers: 1_000,
  maxEdges: 10_000,
  /** Request rates are estimated over a sliding window of this length (two buckets). */
  rateWindowMs: 10_000,
  /** A caller's wait between an answer and its next request counts up to this (an idle caller
   * is not backing off). */
  maxWaitMs: 10_000,
  /** A caller's user agent product is cut to this length; parsed products are cached. */
  maxProductChars: 64,
  userAgentCacheEntries: 256,
  /** A rehearsal samples the dependents map at most this often, and keeps at most this many
   * samples (the interval grows for long scenarios). */
  rehearseMinSampleMs: 100,
  rehearseMaxSamples: 5_000,
  /** Callers a rehearsal follows (the first seen); memory is samples x callers x 4 numbers. */
  rehearseMaxCallers: 200,
  /** A rehearsal's baseline and after-fault observation, when not given: this fraction of the
   * scenario's wall time, within bounds. */
  rehearseBaselineFraction: 0.1,
  rehearseMinBaselineMs: 2_000,
  rehearseMaxBaselineMs: 60_000,
  rehearseObserveFraction: 0.2,
  rehearseMinObserveMs: 3_000,
  rehearseMaxObserveMs: 120_000,
} as const;

/** The embedded SQLite store (src/store/sqlite.ts) and its worker thread. */
export const sqlite = {
  /** One group commit takes the appends queued while the previous one ran, up to this many rows
   * and data bytes (an append is never split, so a larger one commits alone): a commit of 1 KiB
   * records takes about 5 us per row, so a batch holds the worker about 20 ms at most and an
   * append waits for at most one commit before its own. */
  commitMaxRows: 4_000,
  commitMaxBytes: 8 * 1024 * 1024,
  /** Appends' record bytes sent to the worker and not answered yet: two group commits' worth (the
   * one running and the next). Further appends wait, in order, as their requests' records rather
   * than as copies queued in messages. An append larger than this is sent alone. */
  maxBytesAtWorker: 16 * 1024 * 1024,
  /** Buffers that carry appends' records to the worker are kept for reuse when it hands them
   * back, up to this many bytes; the smallest is 64 KiB. */
  transferPoolBytes: 32 * 1024 * 1024,
  transferMinBytes: 64 * 1024,
} as const;
