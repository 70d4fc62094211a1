/**
 * The Store contract: everything the engine needs from durable storage, and nothing about how
 * it is kept. The embedded SQLite store implements it today; a NATS JetStream store (one
 * JetStream stream per shard, metadata as a log with compare-and-set) implements the same
 * contract later. The engine derives sequence numbers from the positions and arrival times a
 * store returns, so every store gives identical API behaviour.
 *
 * Rules every implementation keeps:
 * - Positions are integers, strictly increasing per shard, starting at 0; never reused.
 * - Arrival times (ms since epoch) are non-decreasing per shard: a store clamps a clock that went
 *   backwards to the last arrival time of the shard.
 * - An append resolves only once its records are durable to the store's promise (a crash of the
 *   process after resolution does not lose them).
 * - Metadata changes are compare-and-set on a per-stream version; every accepted change is
 *   delivered, in order, to watchers (the tail from which a frontend's shard map is kept).
 */

export type StreamStatus = 'CREATING' | 'DELETING' | 'ACTIVE' | 'UPDATING';
export type StreamMode = 'PROVISIONED' | 'ON_DEMAND';

export interface ShardDoc {
  /** The number in `shardId-000000000000`. */
  index: number;
  /** Decimal strings, inclusive bounds of the shard's hash key range. */
  startingHashKey: string;
  endingHashKey: string;
  parentIndex?: number;
  adjacentParentIndex?: number;
  /** When the shard opened (ms); its StartingSequenceNumber is derived from it. */
  openedMs: number;
  /** Set when the shard was closed by resharding: no record at or after this time is in it. */
  closedMs?: number;
  /** Position one past the shard's last record, recorded once the store has sealed the shard. */
  endPosition?: number;
  /** Arrival time of the shard's last record (or its closing time if later), with endPosition. */
  endArrivalMs?: number;
}

/** An enhanced fan-out consumer registered on a stream. */
export interface ConsumerDoc {
  name: string;
  /** Creation time (ms); its ARN ends with it in seconds. */
  createdMs: number;
  status: 'CREATING' | 'ACTIVE' | 'DELETING';
  /** When CREATING or DELETING ends. */
  statusUntilMs?: number;
  tags?: Record<string, string>;
}

/** A stream's metadata document. `version` is maintained by the store (compare-and-set). */
export interface StreamDoc {
  name: string;
  /** Internal key, unique per incarnation: a stream deleted and created again under the same name
   * gets a new key, so records and iterators of the old one can never show through. */
  key: number;
  /** The public StreamId (model pattern `[a-z0-9]{20}-[a-z0-9]{3}`). */
  streamId: string;
  createdMs: number;
  status: StreamStatus;
  /** When the current transient status (CREATING, DELETING, UPDATING) ends. */
  statusUntilMs?: number;
  mode: StreamMode;
  retentionHours: number;
  shards: ShardDoc[];
  tags: Record<string, string>;
  encryptionType: 'NONE' | 'KMS';
  keyId?: string;
  shardLevelMetrics: string[];
  /** Largest record data accepted (UpdateMaxRecordSize); absent means the service default. */
  maxRecordSizeKiB?: number;
  /** How records are placed on an ON_DEMAND stream: by partition key (default) or AUTO (evenly,
   * ignoring partition and explicit hash keys). */
  recordDistribution?: 'AUTO' | 'USER_PARTITION_KEY';
  /** Warm throughput asked for with UpdateStreamWarmThroughput (ON_DEMAND streams). */
  warmThroughputMiBps?: number;
  /** Enhanced fan-out consumers (RegisterStreamConsumer), in registration order. */
  consumers?: ConsumerDoc[];
  /** Records that arrived before this stay expired after a retention increase (ms). */
  retentionFloorMs?: number;
  /** Resource policy document (JSON text) attached with PutResourcePolicy. */
  policy?: string;
  /** When UpdateShardCount last succeeded (ms), for the service's per-24-hour limit. */
  shardCountUpdatesMs?: number[];
  /** When the capacity mode last changed (ms), for the service's per-24-hour limit. */
  modeSwitchesMs?: number[];
  /** The cell the stream is placed in (src/engine/cells.ts): only frontends of that cell serve
   * it. Absent in documents written before cells: the default cell. */
  cell?: string;
  version: number;
}

export type MetaChange = { kind: 'put'; doc: StreamDoc } | { kind: 'delete'; name: string; key: number };

export interface AppendEntry {
  shard: number;
  data: Buffer;
  partitionKey: string;
  /** Set when `data` was encrypted by the engine: the key id whose material encrypted it. */
  keyId?: string;
}

export interface Appended {
  position: number;
  arrivalMs: number;
}

export interface StoredRecord {
  position: number;
  arrivalMs: number;
  data: Buffer;
  partitionKey: string;
  /** The key id the data is encrypted under, as appended; absent for plain data. */
  keyId?: string;
}

/** A small named document outside any stream (account settings), with its CAS version. */
export interface Setting {
  value: unknown;
  version: number;
}

export interface ShardTip {
  /** Position the next appended record will get. */
  nextPosition: number;
  /** Arrival time of the newest record, or 0 if the shard has none. */
  lastArrivalMs: number;
  /** True once the shard is sealed: nextPosition is then its end, for good. */
  sealed?: boolean;
}

/** An append named a shard the store has sealed; the caller routes again with fresh metadata. */
export class ShardSealedError extends Error {
  constructor(readonly shard: number) {
    super(`shard ${shard} is sealed`);
  }
}

/**
 * The store cannot be reached (a NATS frontend cut off from every server): the operation was not
 * done, or its outcome is unknown as after any failed request. Answered with a retryable 503.
 */
export class StoreUnavailableError extends Error {}

/** A frontend's metadata view as `/health` shows it; cheap and synchronous, never waits for the store. */
export interface MetaStatus {
  /** Version of the metadata the frontend's shard map is built from: the last metadata-log entry
   * its view applied (NATS). */
  version: number;
  /** Metadata changes the store holds that the view has not applied yet (0: current), as last
   * measured; undefined before the first measurement. */
  lag?: number;
  /** When `lag` was measured (ms since epoch). */
  measuredMs?: number;
  /** Why the store is unreachable, while it is: operations then fail at once with
   * StoreUnavailableError. */
  unreachable?: string;
}

export interface ReadRequest {
  streamKey: number;
  shard: number;
  fromPosition: number;
  /** Records that arrived before this are past retention and never returned. */
  minArrivalMs: number;
  maxCount: number;
  maxBytes: number;
}

export interface ReadResult {
  records: StoredRecord[];
  tip: ShardTip;
}

/**
 * A named lease: who holds it, since when and until when (ms since epoch, frontend clocks, which
 * must be synchronised). Kept by the store so that frontends coordinate through it, never with
 * each other. Expiry is by the time recorded in the entry: an entry past `expiresMs` is free.
 */
export interface LeaseBody {
  holder: string;
  acquiredMs: number;
  expiresMs: number;
}

export interface Lease extends LeaseBody {
  name: string;
  /** Maintained by the store; changes with every write of any lease. */
  version: number;
}

export interface Store {
  /** A short name for logs and health: 'sqlite', 'sqlite-memory', 'nats'. */
  readonly kind: string;

  /** Snapshot of all stream documents. */
  loadStreams(): Promise<StreamDoc[]>;
  /** Deliver every metadata change accepted after this call, in order. Returns an unsubscribe. */
  watch(onChange: (change: MetaChange) => void): () => void;
  /**
   * Compare-and-set a stream document: succeeds only if the stored version equals
   * `expectedVersion` (0 means the name must not exist). Resolves to the stored document with
   * its new version, or null when another writer got there first.
   */
  putStream(doc: StreamDoc, expectedVersion: number): Promise<StreamDoc | null>;
  /** Compare-and-delete a stream document; its records are dropped too. */
  deleteStream(name: string, expectedVersion: number): Promise<boolean>;
  /** The current document of one stream, read from the store (not a cache). */
  getStream(name: string): Promise<StreamDoc | undefined>;
  /** Account-level settings: read, and compare-and-set (0 means the setting must not exist). */
  getSetting(name: string): Promise<Setting | undefined>;
  putSetting(name: string, value: unknown, expectedVersion: number): Promise<Setting | null>;
  /** A secret shared by every frontend over this store, created on first use. */
  secret(name: string, sizeBytes: number): Promise<Buffer>;

  /**
   * Append records of one stream (any shards); resolves in input order once durable. All or
   * nothing: if any entry names a sealed shard, nothing is appended and it rejects with
   * ShardSealedError.
   */
  append(streamKey: number, entries: AppendEntry[]): Promise<Appended[]>;
  /**
   * Seal a shard (resharding closed it): appends ordered after this fail with ShardSealedError,
   * so the shard's end is final. Idempotent; resolves to the final tip.
   */
  sealShard(streamKey: number, shard: number): Promise<ShardTip>;
  read(request: ReadRequest): Promise<ReadResult>;
  tip(streamKey: number, shard: number): Promise<ShardTip>;
  /** First position whose arrival time is at or after `timestampMs` (the tip if none). */
  positionAt(streamKey: number, shard: number, timestampMs: number): Promise<number>;
  /** Remove records that arrived before `beforeMs`; resolves to how many went. */
  trim(streamKey: number, shard: number, beforeMs: number, maxRows: number): Promise<number>;

  /** The metadata view's version and lag, and whether the store is reachable (for `/health`).
   * Optional: without it (the embedded store, where the view is the store) the frontend counts
   * the changes it was told of and reports no lag. */
  metaStatus?(): MetaStatus;

  /**
   * Compare-and-set a lease: `decide` is given the current entry (undefined if there is none) and
   * returns the entry to write, or undefined to leave it. The decision and the write are one
   * atomic step against every frontend of the store: if another write got in between, `decide`
   * is asked again on the newer state. Resolves to the entry as it stands after the call and
   * whether this call wrote it.
   */
  updateLease(
    name: string,
    decide: (current: Lease | undefined) => LeaseBody | undefined,
  ): Promise<{ lease: Lease | undefined; written: boolean }>;
  /** The entry of a lease as this frontend last saw it (no store round trip). */
  peekLease(name: string): Lease | undefined;
  /** Be told of every lease entry written after this call (by any frontend). */
  watchLeases(onChange: (lease: Lease) => void): () => void;
  /**
   * Record that frontend `id` is alive (for `fleet.heartbeatTtlMs`), and resolve to how many
   * frontends are alive (this one included), as the store counts them: one small write and one
   * read, whatever the fleet's size. With `leaving`, remove the frontend's heartbeat instead (it
   * is stopping: the others count without it at once) and resolve to the count left.
   */
  heartbeat(id: string, leaving?: boolean): Promise<number>;
  /**
   * Cumulative records and bytes appended to a shard by every frontend, if the store can count
   * them cheaply (the NATS store: one STREAM.INFO). The owner measures ON_DEMAND streams' fleet-wide
   * write rate from them. Absent on a store one process serves (its own meter sees everything).
   */
  writeCounters?(streamKey: number, shard: number): Promise<{ records: number; bytes: number }>;

  /** Be told, once, when any frontend appends to (or seals) a shard from now on; returns a function
   * that stops waiting. Optional: without it a subscriber learns of other frontends' appends by
   * polling (the embedded store has no other frontends; the engine tells of its own appends). */
  watchShard?(streamKey: number, shard: number, onAppend: () => void): () => void;

  /** How long the oldest append this frontend has waiting in the store has waited, in ms (0 when
   * none). Optional: the NATS store reports it (its per-shard pipelines queue when the cluster is
   * slower than the frontend); admission refuses writes while it is high. */
  appendWaitMs?(): number;

  close(): Promise<void>;
}
