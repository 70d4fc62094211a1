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
  /** A body with a declared length is collected in chunks until this share of it has arrived,
   * then copied into one buffer of the declared length, which takes the rest as it arrives (each
   * chunk garbage at once). Joining all chunks at the end held a body twice (with 100 KiB records,
   * peak RSS 422-432 MiB against 335 with the buffer from the first byte); reserving at the first
   * byte let a client that sends one byte hold the declared length. At a quarter, a client must
   * send a quarter of what it makes the server hold. */
  bodyReserveShare: 0.25,
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
  /** Request body bytes held at once by requests in flight (received, or a body's buffer of its
   * declared length once `bodyReserveShare` of it arrived): bounds the memory of bodies to 256 MiB
   * whatever their sizes. */
  maxInFlightBodyBytes: 256 * 1024 * 1024,
  /** Writes (PutRecord, PutRecords) are refused before their body is read while the oldest append
   * this frontend has waiting in its store has waited this long (alarm at 80%). Past it the store
   * takes fewer records than the frontend admits (a NATS cluster slower than its frontends): more
   * writes would only queue towards the request deadline, so they get a 503 the SDKs retry with
   * backoff. Reads still go through. One second is far above a healthy append (a few ms) and far
   * below the request deadline. */
  maxStoreWaitMs: 1_000,
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

/** A frontend's view of its store as `/health` shows it, and how a store it cannot reach is
 * answered (src/store/nats.ts, src/app.ts). */
export const storeHealth = {
  /** How often a NATS frontend measures how far its metadata view is behind the log (one
   * STREAM.INFO of the log: a fleet of 20 frontends makes 20 small requests/s). `/health` shows the
   * last measurement and never waits for the store; one measurement is in flight at a time, and
   * it gives up after the store's request timeout (5 s). */
  metaStatusRefreshMs: 1_000,
  /** A frontend disconnected from every NATS server for this long takes the store as unreachable:
   * requests waiting on it fail and new ones are refused at once with a retryable 503 until it
   * reconnects (it keeps trying every 250 ms). A node of a cluster going away costs a reconnect to
   * another node, a few milliseconds, so this never fires then; and it keeps a request's wait for
   * a lost store far below the 10 s request deadline. */
  unreachableAfterMs: 1_000,
} as const;

/** `sluice cluster up/down/status` (src/cli/cluster.ts): a local NATS cluster and frontends. */
export const cluster = {
  /** Frontends one `sluice cluster up` starts at most: each is a Node process of 60-100 MB, and a
   * development machine holds a few dozen. */
  maxFrontends: 100,
  /** nats-server nodes at most (JetStream replicates at most 5 times). */
  maxNodes: 5,
  /** A nats-server must log "Server is ready" within this time. */
  natsStartTimeoutMs: 15_000,
  /** A frontend must listen within this time: it waits up to 30 s for JetStream (a new cluster
   * elects its metadata leader in a few seconds), plus Node's start. */
  frontendStartTimeoutMs: 45_000,
  /** `down` waits this long after SIGTERM before SIGKILL (a frontend drains for 5 s). */
  stopTimeoutMs: 10_000,
  /** `status` waits this long for a frontend's /health. */
  healthTimeoutMs: 2_000,
} as const;

/** Cells (src/engine/cells.ts): a cell's name is a NATS server tag (`cell:NAME`), a metrics label
 * and part of error messages, so it is short: lower-case letters, digits and hyphens. */
export const cells = {
  maxNameChars: 32,
} as const;

/** Leases and the fleet (src/engine/leases.ts, src/store/nats/leases.ts): how frontends over one
 * store coordinate through it, never with each other. Every cost here is per frontend and
 * constant in the fleet's size. */
export const fleet = {
  /** The owner lease (one per fleet: transition timers, trimming, ON_DEMAND scaling): how long a
   * holder's entry lasts and how often the holder renews it. A dead owner's duties wait at most
   * the TTL; a renewal may fail twice before the holder lets its duties go. */
  ownerLeaseTtlMs: 10_000,
  ownerLeaseRenewMs: 3_000,
  /** A holder stops acting this long before its entry expires, so two owners never act at once
   * while clocks differ by less than this (frontend clocks must be synchronised anyway). */
  ownerLeaseSafetyMs: 2_000,
  /** At shutdown the owner gives its lease back (so another frontend takes over at once rather
   * than after the TTL); shutdown waits at most this long for the store (release, last heartbeat). */
  ownerReleaseWaitMs: 1_000,
  /** Each frontend writes one heartbeat this often; one that missed heartbeats for the TTL is no
   * longer counted (per-shard limits are shared among the frontends counted). */
  heartbeatMs: 1_000,
  heartbeatTtlMs: 5_000,
  /** Lease entries a frontend keeps in view; past it, expired entries are dropped (the entries
   * are one per fleet duty and one per consumer-and-shard subscribed within the hour). */
  maxLeaseEntries: 100_000,
  /** The NATS store removes lease entries not written for this long (longer than any lease: a
   * subscription lasts 5 minutes). */
  leaseRetentionMs: 60 * 60_000,
} as const;

/** The NATS JetStream store (src/store/nats.ts, docs/nats-store.md), each bound with its reason. */
export const nats = {
  /** JetStream's own expiry of records (max_age of each shard stream): the longest retention the
   * API allows (8,760 h) plus a day. The engine hides records past each stream's retention and
   * trims them every minute; max_age is only a backstop, so it never has to change with
   * IncreaseStreamRetentionPeriod. */
  recordMaxAgeMs: (8760 + 24) * 3_600_000,
  /** Duplicate window of every stream: a message resent with the same Nats-Msg-Id within this
   * time is answered with the stored copy instead of being stored twice. The server keeps one
   * entry per message id for this long (memory grows with rate x window), so it is short, but it
   * must exceed `writeDeadlineMs` so that every resend of a write is covered. */
  duplicateWindowMs: 30_000,
  /** An append, a seal or a metadata write (resends after leader changes and conflicts included)
   * gives up after this long; below `duplicateWindowMs`. */
  writeDeadlineMs: 20_000,
  /** A publish or API request without an answer after this long is taken as lost (it may have
   * taken effect: writes are resent with the same message id). A leader election takes a few
   * seconds. */
  requestTimeoutMs: 5_000,
  /** Messages one frontend keeps in flight per shard (pipelined publishes awaiting their ack):
   * enough for a full PutRecords (500) and the next. */
  maxInflightPerShard: 1024,
  /** Backoff after a conflict (another frontend appended to the shard) or a failed attempt:
   * random in [0, min(cap, base x 2^attempt)]. */
  retryBaseMs: 1,
  retryMaxMs: 200,
  /** Backoff of stream creation probes, metadata writes and connection attempts while a server or
   * leader is not there: random in [0, min(cap, base x 2^attempt)]. */
  adminRetryBaseMs: 5,
  adminRetryMaxMs: 1_000,
  /** How often requests without an answer are looked for (they expire `requestTimeoutMs` after
   * they were sent, give or take this). */
  timeoutSweepMs: 100,
  /** Reads of a shard's last message before giving up, when the shard stream was empty at the
   * first read and was written to before its state could be read (each race takes a new write). */
  tipReadAttempts: 5,
  /** Reads of at most this many records use pipelined message gets; longer ones a short-lived
   * pull consumer (creating one costs about as much as 30 gets). */
  smallReadRecords: 32,
  /** When creating a read consumer fails (a cluster that lost a node), reads use message gets for
   * this long, at most `fallbackReadRecords` records per read. */
  consumerReadsOffMs: 30_000,
  fallbackReadRecords: 1_000,
  /** Per-record allowance for subject and headers added to a read's byte bound when asking
   * JetStream for a batch (JetStream counts whole messages; the store counts data and key). */
  readOverheadBytesPerRecord: 512,
  /** A read consumer is deleted after its read; if that is lost, the server drops it after this
   * long idle. */
  readConsumerIdleMs: 10_000,
  /** Trimming skips a shard without reading its oldest record when the server stamped that record
   * this much later than the cut (frontend clocks stamp arrival times; this allows for skew). */
  clockSkewAllowanceMs: 60_000,
  /** Entries kept per name (stream document, setting, secret) in the metadata log: a frontend
   * starts from the latest of each; a view that falls behind by more than this many versions of
   * one document skips the older ones (it converges on the latest, which is all the engine keeps). */
  metaHistoryPerName: 64,
  /** Stream creations and deletions one store runs at once (each is a meta-leader proposal). */
  adminConcurrency: 16,
  /** Time allowed at open to connect and for JetStream to answer (a cluster electing its meta
   * leader takes a few seconds). */
  openTimeoutMs: 30_000,
  /** One connection attempt at open (attempts go on until `openTimeoutMs`). */
  connectTimeoutMs: 5_000,
  /** Wait between reconnect attempts to a server (reconnection never stops). */
  reconnectWaitMs: 250,
  /** Ping interval and unanswered pings before a connection is taken as dead. */
  pingIntervalMs: 5_000,
  maxPingsOut: 3,
  /** The server's max_payload must hold the largest record (10 MiB after UpdateMaxRecordSize,
   * plus 28 bytes of encryption) with its headers and a 256-character partition key. */
  minServerMaxPayloadBytes: 10 * 1024 * 1024 + 64 * 1024,
  /** A record stream whose Kinesis stream is gone is removed by the orphan sweep only once it is
   * this old (a stream created by a frontend is always in the metadata log long before). */
  orphanGraceMs: 10 * 60_000,
} as const;

/** The embedded SQLite store (src/store/sqlite.ts) and its worker thread. */
export const sqlite = {
  /** One group commit takes the appends queued while the previous one ran, up to this many
   * records and data bytes (an append is never split, so a larger one commits alone): a commit of
   * 1 KiB records takes about 2-2.5 us per record (5 us when each record was a row), so a batch
   * holds the worker about 10 ms at most and an append waits for at most one commit before its
   * own. */
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
  /** Records of one shard committed together are stored as one row (a chunk, src/store/chunks.ts)
   * of at most this many bytes (a larger record makes a chunk of its own): a row per record cost
   * SQLite about 5 us per 1 KiB record, a row per chunk a few hundredths of that. A read that
   * starts inside a chunk reads the chunk whole, so this bounds the bytes read to serve a tail
   * read of one record. */
  chunkMaxBytes: 256 * 1024,
  /** Converting a database written before chunks reads its one-row-per-record table this many
   * rows at a time (records are at most 1 MiB, so at most 100 MiB held). */
  migrationPageRows: 100,
} as const;

/** The PutRecords and PutRecord fast path on the JSON wire (src/api/putrecords-fast.ts). */
export const fastPath = {
  /** Each record's base64 is decoded by Node from latin1 strings of at most this many characters
   * (a multiple of 4). Strings over V8's largest regular heap object (128 KiB) go to its
   * large-object space, which made one string per value 10 times slower per byte at 100 KiB
   * records than in pieces (measured, decode and check: 263 us per 100 KiB record as one string,
   * 23 us in pieces of 64 Ki characters, 39 us in pieces of 16 Ki; 0.6 us per 1 KiB record). */
  base64ChunkChars: 64 * 1024,
} as const;
