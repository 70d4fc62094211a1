import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { engine as engineDefaults, kinesis } from '../limits.js';
import { errors, KinesisError } from '../protocol/errors.js';
import {
  type AppendEntry,
  type Appended,
  type ShardDoc,
  ShardSealedError,
  type ShardTip,
  type Store,
  type StreamDoc,
  type StreamMode,
} from '../store/store.js';
import { cellOf, checkCell, defaultCell, existsInCell, WrongCellError } from './cells.js';
import { evenRanges, hashKeyOf, shardIdOf, shardIndexOf } from './hash.js';
import { KeyRing } from './keyring.js';
import { FleetCount, OwnerLease, ownerLeaseName } from './leases.js';
import { messages } from './messages.js';
import { defaultOnDemandPolicy, type OnDemandPolicy, OnDemandScaler } from './ondemand.js';
import { scaleOnDemand } from './resharding.js';
import { decodeSequence, encodeEndingSequence, encodeSequence } from './sequence.js';
import { ShardThrottle, type ThroughputLimits } from './throughput.js';
import { openIterator, openPage, sealIterator, sealPage, TokenSealer } from './tokens.js';

export interface EngineConfig {
  accountId: string;
  region: string;
  /** Open shards allowed across all streams (the account shard limit). */
  shardLimit: number;
  /** How long CREATING and DELETING last, so clients can observe them. */
  createStreamMs: number;
  deleteStreamMs: number;
  /** How long a stream stays UPDATING after a resharding or another control change. */
  updateStreamMs: number;
  iteratorTtlMs: number;
  maxRecordSizeBytes: number;
  /** When and how ON_DEMAND streams add shards (src/engine/ondemand.ts). */
  onDemand: OnDemandPolicy;
  /** Per-shard throughput limits; undefined for none (`--throughput unlimited`). */
  throughput: ThroughputLimits | undefined;
  /** The cell this frontend serves (`--cell`, src/engine/cells.ts): new streams are placed in it,
   * and only its streams are served, listed and counted against the limits. */
  cell: string;
  /** Where fleet events (owner lease, frontend count) are logged. */
  log?: (line: string) => void;
}

/** Per-stream and per-shard metrics the engine reports (the service's CloudWatch metrics). */
export interface StreamMetrics {
  incoming(stream: string, shard: number, records: number, bytes: number): void;
  outgoing(stream: string, shard: number, records: number, bytes: number, iteratorAgeMs: number): void;
  writeThrottled(stream: string, shard: number): void;
  readThrottled(stream: string, shard: number): void;
}

/** The service's per-shard limits (src/limits.ts). */
export const awsThroughput: ThroughputLimits = {
  writeBytesPerSec: kinesis.shardWriteBytesPerSec,
  writeRecordsPerSec: kinesis.shardWriteRecordsPerSec,
  readBytesPerSec: kinesis.shardReadBytesPerSec,
  readCallsPerSec: kinesis.shardReadCallsPerSec,
};

export const defaultEngineConfig: EngineConfig = {
  accountId: kinesis.defaultAccountId,
  region: kinesis.defaultRegion,
  shardLimit: kinesis.defaultShardLimit,
  createStreamMs: engineDefaults.createStreamMs,
  deleteStreamMs: engineDefaults.deleteStreamMs,
  updateStreamMs: engineDefaults.updateStreamMs,
  iteratorTtlMs: kinesis.iteratorTtlMs,
  maxRecordSizeBytes: kinesis.maxRecordSizeBytes,
  onDemand: defaultOnDemandPolicy,
  throughput: awsThroughput,
  cell: defaultCell,
};

/** How a request names its stream: any of the three members the model allows. */
export interface StreamRef {
  StreamName?: string;
  StreamARN?: string;
  StreamId?: string;
}

export interface RecordInput {
  Data: Buffer;
  PartitionKey: string;
  ExplicitHashKey?: string;
}

interface PageState {
  /** Stream name the token belongs to. */
  s?: string;
  /** Stream creation time (ms), binding the token to one incarnation. */
  c?: number;
  /** Last shard index or stream name returned. */
  a: number | string;
  /** Shard filter carried from the first call. */
  f?: { t: string; s?: number; ts?: number };
  /** When the token was issued (ms). */
  t: number;
}

interface OpenRange {
  start: bigint;
  end: bigint;
  shard: ShardDoc;
}

/** The earliest time a transient status in the document ends. */
function nextTransition(doc: StreamDoc): number | undefined {
  let due = doc.statusUntilMs;
  for (const c of doc.consumers ?? []) {
    if (c.statusUntilMs !== undefined && (due === undefined || c.statusUntilMs < due)) due = c.statusUntilMs;
  }
  return due;
}

/** The document with every transient status due by `now` ended (the same object if none is). */
function settle(doc: StreamDoc, now: number): StreamDoc {
  let changed = false;
  let next: StreamDoc = doc;
  if (doc.statusUntilMs !== undefined && doc.statusUntilMs <= now && doc.status !== 'DELETING') {
    const { statusUntilMs: _done, ...rest } = doc;
    next = { ...rest, status: 'ACTIVE' };
    changed = true;
  }
  if (doc.consumers?.some((c) => c.statusUntilMs !== undefined && c.statusUntilMs <= now)) {
    next = {
      ...next,
      consumers: (doc.consumers ?? []).flatMap((c) => {
        if (c.statusUntilMs === undefined || c.statusUntilMs > now) return [c];
        if (c.status === 'DELETING') return [];
        const { statusUntilMs: _done, ...rest } = c;
        return [{ ...rest, status: 'ACTIVE' as const }];
      }),
    };
    changed = true;
  }
  return changed ? next : doc;
}

const idAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

function randomStreamId(): string {
  const pick = (n: number) =>
    Array.from({ length: n }, () => idAlphabet[randomInt(idAlphabet.length)]).join('');
  return `${pick(20)}-${pick(3)}`;
}

/**
 * The Kinesis domain: streams, shards, routing by hash key, sequence numbers and iterators,
 * over the Store contract. No HTTP and no SQL here. The engine keeps a cache of every stream
 * document, built from the store's snapshot and kept current from its change tail; every change
 * it makes is a compare-and-set against the store, so the store stays the authority.
 */
export class Engine {
  private readonly byName = new Map<string, StreamDoc>();
  private readonly byKey = new Map<number, StreamDoc>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Parsed hash ranges per stream document (documents are immutable; a change is a new one). */
  private readonly rangeCache = new WeakMap<StreamDoc, OpenRange[]>();
  private trimTimer: NodeJS.Timeout | undefined;
  private unwatch: () => void = () => {};

  private readonly keyring: KeyRing;
  private readonly throttle: ShardThrottle;
  /** Where per-stream and per-shard metrics go (the /metrics endpoint), if anywhere. */
  metrics: StreamMetrics | undefined;
  private readonly scaler: OnDemandScaler;
  private scaleTimer: NodeJS.Timeout | undefined;
  /** Told of every append this frontend commits (stream key, shard indexes): readers that wait
   * for new records (SubscribeToShard) wake on it instead of polling. */
  private readonly appendListeners = new Set<(streamKey: number, shards: Set<number>) => void>();
  /** This frontend's id in leases and heartbeats. */
  readonly frontendId = randomUUID();
  /** The fleet's single-owner duties happen only while this frontend holds it (leases.ts). */
  readonly owner: OwnerLease;
  /** The fleet's size, which shares the per-shard limits. */
  readonly fleet: FleetCount;
  /** The pending end of each stream's transient status (one timer per stream name). */
  private readonly transitionTimers = new Map<string, NodeJS.Timeout>();

  private constructor(
    readonly store: Store,
    readonly config: EngineConfig,
    readonly sealer: TokenSealer,
  ) {
    this.keyring = new KeyRing(store);
    this.throttle = new ShardThrottle(config.throughput);
    this.scaler = new OnDemandScaler(config.onDemand);
    const log = config.log ?? (() => {});
    this.owner = new OwnerLease(
      store,
      this.frontendId,
      ownerLeaseName(config.cell),
      () => {
        // Transitions other frontends started (or a dead owner left) are ended from now on.
        for (const doc of this.streams()) this.scheduleTransition(doc);
      },
      log,
    );
    this.fleet = new FleetCount(store, this.frontendId, (count) => this.throttle.setFrontends(count), log);
  }

  static async open(store: Store, config: EngineConfig): Promise<Engine> {
    const engine = new Engine(store, config, new TokenSealer(await store.secret('token-key', 32)));
    engine.unwatch = store.watch((change) => {
      if (change.kind === 'put') {
        engine.remember(change.doc);
        // Whoever made the change, the owner ends its transient status.
        if (engine.inCell(change.doc)) engine.scheduleTransition(change.doc);
      } else engine.forget(change.name, change.key);
    });
    await engine.fleet.start();
    await engine.owner.start();
    for (const doc of await store.loadStreams()) {
      engine.remember(doc);
      if (engine.inCell(doc)) engine.scheduleTransition(doc);
    }
    // A resharding interrupted between closing shards and sealing them is finished now.
    for (const doc of [...engine.streams()]) {
      const unsealed = doc.shards.filter((s) => s.closedMs !== undefined && s.endPosition === undefined);
      if (unsealed.length > 0)
        await engine.sealShards(
          doc,
          unsealed.map((s) => s.index),
        );
    }
    engine.trimTimer = setInterval(() => void engine.trimAll(), engineDefaults.trimIntervalMs);
    engine.trimTimer.unref();
    engine.scaleTimer = setInterval(() => void engine.scaleAll(), config.onDemand.checkMs);
    engine.scaleTimer.unref();
    return engine;
  }

  async close(): Promise<void> {
    this.unwatch();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const timer of this.transitionTimers.values()) clearTimeout(timer);
    this.transitionTimers.clear();
    await this.fleet.stop();
    await this.owner.stop();
    if (this.trimTimer) clearInterval(this.trimTimer);
    if (this.scaleTimer) clearInterval(this.scaleTimer);
  }

  private remember(doc: StreamDoc): void {
    const known = this.byName.get(doc.name);
    if (known && known.key === doc.key && known.version >= doc.version) return;
    if (known && known.key !== doc.key) this.byKey.delete(known.key);
    this.byName.set(doc.name, doc);
    this.byKey.set(doc.key, doc);
  }

  private forget(name: string, key: number): void {
    this.scaler?.forget(key);
    this.throttle?.forgetStream(key);
    const known = this.byName.get(name);
    if (known && known.key === key) this.byName.delete(name);
    this.byKey.delete(key);
  }

  arnOf(name: string): string {
    return `arn:aws:kinesis:${this.config.region}:${this.config.accountId}:stream/${name}`;
  }

  // ---- stream resolution -------------------------------------------------------------------

  /** The stream a request names, by StreamName, StreamARN or StreamId. */
  /** Be told of appends committed by this frontend; returns an unsubscribe. */
  onAppend(listener: (streamKey: number, shards: Set<number>) => void): () => void {
    this.appendListeners.add(listener);
    return () => this.appendListeners.delete(listener);
  }

  /** Every stream document of this frontend's cell, as the engine's cache holds it. */
  *streams(): IterableIterator<StreamDoc> {
    for (const doc of this.byName.values()) if (this.inCell(doc)) yield doc;
  }

  /** True when the stream is placed in this frontend's cell (src/engine/cells.ts). */
  inCell(doc: StreamDoc): boolean {
    return cellOf(doc) === this.config.cell;
  }

  /**
   * Change a stream's document with compare-and-set: `change` gets the current document (and may
   * throw a KinesisError to refuse); on a concurrent change it runs again on the fresh document.
   */
  async modify(ref: StreamRef, change: (doc: StreamDoc) => StreamDoc): Promise<StreamDoc> {
    for (let attempt = 0; attempt < engineDefaults.casAttempts; attempt++) {
      const doc = this.find(ref);
      const stored = await this.store.putStream(change(doc), doc.version);
      if (stored) {
        this.remember(stored);
        this.scheduleTransition(stored);
        return stored;
      }
      const fresh = await this.store.getStream(doc.name);
      if (fresh) this.remember(fresh);
      else this.forget(doc.name, doc.key);
    }
    const doc = this.find(ref);
    throw errors.resourceInUse(messages.streamNotActive(doc.name, this.config.accountId, doc.status));
  }

  /**
   * Second half of a resharding: once the new document routes writes to the children, seal the
   * closed parents in the store (writes still in flight to them are refused and routed again),
   * then record where each parent ends.
   */
  async sealShards(doc: StreamDoc, indexes: number[]): Promise<void> {
    const tips = new Map<number, ShardTip>();
    for (const index of indexes) tips.set(index, await this.store.sealShard(doc.key, index));
    try {
      await this.modify({ StreamName: doc.name }, (current) => {
        if (current.key !== doc.key)
          throw errors.resourceNotFound(messages.streamNotFound(doc.name, this.config.accountId));
        return {
          ...current,
          shards: current.shards.map((s) => {
            const tip = tips.get(s.index);
            if (!tip || s.endPosition !== undefined) return s;
            return {
              ...s,
              endPosition: tip.nextPosition,
              endArrivalMs: Math.max(s.closedMs ?? 0, tip.lastArrivalMs),
            };
          }),
        };
      });
    } catch (error) {
      // The stream was deleted meanwhile: nothing left to record.
      if (!(error instanceof KinesisError && error.type === 'ResourceNotFoundException')) throw error;
    }
  }

  /** The stream a request names (any status); ResourceNotFoundException if there is none. */
  find(ref: StreamRef, missing = messages.streamNameOrArnRequired): StreamDoc {
    const { name, account, local } = this.nameOf(ref, missing);
    const doc = local ? this.byName.get(name) : undefined;
    if (!doc || (ref.StreamId !== undefined && doc.streamId !== ref.StreamId)) {
      throw errors.resourceNotFound(messages.streamNotFound(name, account));
    }
    return checkCell(doc, this.config.cell, this.config.accountId);
  }

  /** The stream name and account a request names; an ARN of another region or account names
   * a stream that does not exist here. */
  nameOf(ref: StreamRef, missing: string): { name: string; account: string; local: boolean } {
    const account = this.config.accountId;
    if (ref.StreamARN !== undefined) {
      const match = /^arn:aws[^:]*:kinesis:([^:]*):(\d{12}):stream\/(.+)$/.exec(ref.StreamARN);
      const [, region = '', arnAccount = account, name = ref.StreamARN] = match ?? [];
      if (ref.StreamName !== undefined && ref.StreamName !== name) {
        throw errors.invalidArgument(messages.nameArnMismatch(ref.StreamName, ref.StreamARN));
      }
      return { name, account: arnAccount, local: region === this.config.region && arnAccount === account };
    }
    if (ref.StreamName !== undefined) return { name: ref.StreamName, account, local: true };
    if (ref.StreamId !== undefined) {
      for (const doc of this.byName.values()) {
        if (doc.streamId === ref.StreamId) return { name: doc.name, account, local: true };
      }
      return { name: ref.StreamId, account, local: false };
    }
    throw errors.invalidArgument(missing);
  }

  /** A stream that accepts data-plane calls (ACTIVE or UPDATING). */
  findActive(ref: StreamRef): StreamDoc {
    const doc = this.find(ref);
    if (doc.status !== 'ACTIVE' && doc.status !== 'UPDATING') {
      throw errors.resourceNotFound(messages.streamNotFound(doc.name, this.config.accountId));
    }
    return doc;
  }

  /** The account's limit on ON_DEMAND streams (50 by default, DescribeLimits reports it). */
  checkOnDemandLimit(): void {
    let count = 0;
    for (const doc of this.streams()) if (doc.mode === 'ON_DEMAND') count++;
    if (count >= kinesis.onDemandStreamCountLimit) {
      throw errors.limitExceeded(
        messages.onDemandStreamLimit(
          this.config.accountId,
          this.config.region,
          kinesis.onDemandStreamCountLimit,
        ),
      );
    }
  }

  openShardCount(): number {
    let count = 0;
    for (const doc of this.streams())
      for (const shard of doc.shards) if (shard.closedMs === undefined) count++;
    return count;
  }

  // ---- control plane -----------------------------------------------------------------------

  async createStream(input: {
    StreamName: string;
    ShardCount?: number;
    StreamModeDetails?: { StreamMode: StreamMode };
    Tags?: Record<string, string>;
    MaxRecordSizeInKiB?: number;
    WarmThroughputMiBps?: number;
    RecordDistributionStrategy?: 'AUTO' | 'USER_PARTITION_KEY';
  }): Promise<Record<string, never>> {
    const mode = input.StreamModeDetails?.StreamMode ?? 'PROVISIONED';
    if (mode === 'ON_DEMAND' && input.ShardCount !== undefined) {
      throw errors.invalidArgument(messages.shardCountWithOnDemand);
    }
    if (mode !== 'ON_DEMAND' && input.RecordDistributionStrategy === 'AUTO') {
      throw errors.invalidArgument(messages.autoNeedsOnDemand);
    }
    // Without a ShardCount the service creates the on-demand default number of shards.
    const count = input.ShardCount ?? kinesis.onDemandInitialShards;
    if (input.Tags && Object.keys(input.Tags).length > kinesis.createStreamMaxTags) {
      throw errors.invalidArgument(messages.tooManyTags(input.StreamName, this.config.accountId));
    }
    const existing = this.byName.get(input.StreamName);
    if (existing) throw this.streamExists(existing);
    if (mode === 'ON_DEMAND') this.checkOnDemandLimit();
    const current = this.openShardCount();
    if (current + count > this.config.shardLimit) {
      throw errors.limitExceeded(
        messages.shardLimit(
          this.config.accountId,
          this.config.region,
          current,
          this.config.shardLimit,
          count,
        ),
      );
    }
    const now = Date.now();
    const creating = this.config.createStreamMs > 0;
    const doc: StreamDoc = {
      name: input.StreamName,
      key: randomInt(2 ** 47),
      streamId: randomStreamId(),
      createdMs: now,
      status: creating ? 'CREATING' : 'ACTIVE',
      statusUntilMs: creating ? now + this.config.createStreamMs : undefined,
      mode,
      retentionHours: kinesis.retentionDefaultHours,
      shards: evenRanges(count).map((range, index) => ({
        index,
        startingHashKey: range.start.toString(),
        endingHashKey: range.end.toString(),
        openedMs: now,
      })),
      tags: input.Tags ?? {},
      encryptionType: 'NONE',
      shardLevelMetrics: [],
      ...(input.MaxRecordSizeInKiB === undefined ? {} : { maxRecordSizeKiB: input.MaxRecordSizeInKiB }),
      ...(mode === 'ON_DEMAND' && input.WarmThroughputMiBps !== undefined
        ? { warmThroughputMiBps: input.WarmThroughputMiBps }
        : {}),
      ...(input.RecordDistributionStrategy === undefined
        ? {}
        : { recordDistribution: input.RecordDistributionStrategy }),
      cell: this.config.cell,
      version: 0,
    };
    const stored = await this.store.putStream(doc, 0);
    if (!stored) {
      // Another frontend (of any cell: names are unique per account) created it first.
      const winner = await this.store.getStream(input.StreamName).catch(() => undefined);
      if (winner) this.remember(winner);
      throw this.streamExists(winner ?? doc);
    }
    this.remember(stored);
    this.scheduleTransition(stored);
    return {};
  }

  /** CreateStream of a name in use: the service's message, or one naming the other cell. */
  private streamExists(doc: StreamDoc): KinesisError {
    const account = this.config.accountId;
    if (this.inCell(doc)) return errors.resourceInUse(messages.streamExists(doc.name, account));
    return existsInCell(doc.name, account, cellOf(doc));
  }

  async deleteStream(
    input: StreamRef & { EnforceConsumerDeletion?: boolean },
  ): Promise<Record<string, never>> {
    const doc = this.find(input);
    if (doc.status === 'DELETING') return {};
    if ((doc.consumers ?? []).length > 0 && input.EnforceConsumerDeletion !== true) {
      throw errors.resourceInUse(messages.streamHasConsumers(this.arnOf(doc.name), doc.name));
    }
    if (this.config.deleteStreamMs <= 0) {
      await this.store.deleteStream(doc.name, doc.version);
      this.forget(doc.name, doc.key);
      return {};
    }
    const deleting: StreamDoc = {
      ...doc,
      status: 'DELETING',
      statusUntilMs: Date.now() + this.config.deleteStreamMs,
    };
    const stored = await this.store.putStream(deleting, doc.version);
    if (!stored)
      throw errors.resourceInUse(messages.streamNotActive(doc.name, this.config.accountId, doc.status));
    this.remember(stored);
    this.scheduleTransition(stored);
    return {};
  }

  /** Finish a transient status when its time comes (also for documents found at start-up). */
  /** Schedule the end of the earliest transient status in a document (stream or consumer). */
  private scheduleTransition(doc: StreamDoc): void {
    const due = nextTransition(doc);
    const pending = this.transitionTimers.get(doc.name);
    if (pending) {
      clearTimeout(pending);
      this.transitionTimers.delete(doc.name);
    }
    if (due === undefined) return;
    const timer = setTimeout(
      () => {
        this.transitionTimers.delete(doc.name);
        if (!this.owner.isOwner) {
          // Only the owner ends transitions; look again later in case this frontend becomes it.
          this.retryTransition(doc.name, doc.key);
          return;
        }
        this.finishTransitions(doc.name, doc.key).catch(() => {
          // The store refused for now (e.g. unreachable); try again shortly.
          this.retryTransition(doc.name, doc.key);
        });
      },
      Math.max(0, due - Date.now()),
    );
    this.transitionTimers.set(doc.name, timer);
  }

  private retryTransition(name: string, key: number): void {
    // One pending timer per stream name, whichever path set it (a retry replaces the end).
    const pending = this.transitionTimers.get(name);
    if (pending) clearTimeout(pending);
    const timer = setTimeout(() => {
      this.transitionTimers.delete(name);
      const doc = this.byName.get(name);
      if (doc && doc.key === key) this.scheduleTransition(doc);
    }, engineDefaults.transitionRetryMs);
    this.transitionTimers.set(name, timer);
  }

  /** End every transient status that is due: CREATING/UPDATING become ACTIVE, DELETING goes. */
  private async finishTransitions(name: string, key: number): Promise<void> {
    const doc = this.byName.get(name);
    if (!doc || doc.key !== key) return;
    const now = Date.now();
    if (doc.status === 'DELETING' && (doc.statusUntilMs ?? 0) <= now) {
      if (await this.store.deleteStream(doc.name, doc.version)) this.forget(doc.name, doc.key);
      else this.retryTransition(name, key);
      return;
    }
    const next = settle(doc, now);
    if (next === doc) {
      this.scheduleTransition(doc);
      return;
    }
    const stored = await this.store.putStream(next, doc.version);
    if (stored) {
      this.remember(stored);
      this.scheduleTransition(stored);
    } else {
      const fresh = await this.store.getStream(name);
      if (fresh) {
        this.remember(fresh);
        this.scheduleTransition(fresh);
      }
    }
  }

  private describeShard(shard: ShardDoc) {
    return {
      ShardId: shardIdOf(shard.index),
      ParentShardId: shard.parentIndex === undefined ? undefined : shardIdOf(shard.parentIndex),
      AdjacentParentShardId:
        shard.adjacentParentIndex === undefined ? undefined : shardIdOf(shard.adjacentParentIndex),
      HashKeyRange: { StartingHashKey: shard.startingHashKey, EndingHashKey: shard.endingHashKey },
      SequenceNumberRange: {
        StartingSequenceNumber: encodeSequence({
          arrivalMs: shard.openedMs,
          shard: shard.index,
          position: -1,
        }),
        EndingSequenceNumber:
          shard.endPosition === undefined
            ? undefined
            : encodeEndingSequence(shard.endArrivalMs ?? shard.closedMs ?? 0, shard.index),
      },
    };
  }

  private summaryFields(doc: StreamDoc) {
    return {
      StreamName: doc.name,
      StreamARN: this.arnOf(doc.name),
      StreamStatus: doc.status,
      StreamModeDetails: { StreamMode: doc.mode },
      RetentionPeriodHours: doc.retentionHours,
      StreamCreationTimestamp: new Date(doc.createdMs),
      EnhancedMonitoring: [{ ShardLevelMetrics: doc.shardLevelMetrics }],
      EncryptionType: doc.encryptionType,
      KeyId: doc.keyId,
    };
  }

  async describeStream(input: StreamRef & { Limit?: number; ExclusiveStartShardId?: string }) {
    const doc = this.find(input);
    const limit = Math.min(
      input.Limit ?? kinesis.describeStreamDefaultShards,
      kinesis.describeStreamDefaultShards,
    );
    const after =
      input.ExclusiveStartShardId === undefined ? -1 : (shardIndexOf(input.ExclusiveStartShardId) ?? -1);
    const shards = this.visibleShards(doc).filter((s) => s.index > after);
    // While CREATING or DELETING the service lists no shards.
    const page = doc.status === 'CREATING' || doc.status === 'DELETING' ? [] : shards.slice(0, limit);
    const { StreamName, StreamARN, StreamStatus, StreamModeDetails, ...rest } = this.summaryFields(doc);
    return {
      StreamDescription: {
        StreamName,
        StreamARN,
        StreamStatus,
        StreamModeDetails,
        Shards: page.map((s) => this.describeShard(s)),
        HasMoreShards: page.length > 0 && shards.length > page.length,
        ...rest,
      },
    };
  }

  async describeStreamSummary(input: StreamRef) {
    const doc = this.find(input);
    return {
      StreamDescriptionSummary: {
        ...this.summaryFields(doc),
        StreamId: doc.streamId,
        OpenShardCount: doc.shards.filter((s) => s.closedMs === undefined).length,
        ConsumerCount: (doc.consumers ?? []).length,
        MaxRecordSizeInKiB: this.maxRecordSizeBytes(doc) / 1024,
        RecordDistributionStrategy:
          doc.mode === 'ON_DEMAND' ? (doc.recordDistribution ?? 'USER_PARTITION_KEY') : undefined,
        WarmThroughput:
          doc.mode === 'ON_DEMAND' && doc.warmThroughputMiBps !== undefined
            ? { TargetMiBps: doc.warmThroughputMiBps, CurrentMiBps: doc.warmThroughputMiBps }
            : undefined,
      },
    };
  }

  async listStreams(input: { Limit?: number; ExclusiveStartStreamName?: string; NextToken?: string }) {
    const limit = Math.min(input.Limit ?? kinesis.listStreamsDefaultLimit, kinesis.listStreamsDefaultLimit);
    let after = input.ExclusiveStartStreamName;
    if (input.NextToken !== undefined) {
      const page = openPage<PageState>(this.sealer, input.NextToken);
      if (!page || typeof page.a !== 'string') throw errors.invalidArgument(messages.invalidNextToken);
      this.checkTokenAge(page);
      after = page.a;
    }
    const names = [...this.streams()]
      .map((doc) => doc.name)
      .sort()
      .filter((n) => after === undefined || n > after);
    const page = names.slice(0, limit);
    const more = names.length > page.length;
    const last = page[page.length - 1];
    return {
      StreamNames: page,
      HasMoreStreams: more,
      NextToken: more && last !== undefined ? sealPage(this.sealer, { a: last, t: Date.now() }) : undefined,
      StreamSummaries: page.map((name) => {
        const doc = this.byName.get(name) as StreamDoc;
        return {
          StreamName: doc.name,
          StreamARN: this.arnOf(doc.name),
          StreamStatus: doc.status,
          StreamModeDetails: { StreamMode: doc.mode },
          StreamCreationTimestamp: new Date(doc.createdMs),
        };
      }),
    };
  }

  private checkTokenAge(page: PageState): void {
    if (Date.now() - page.t > kinesis.nextTokenTtlMs)
      throw errors.expiredNextToken(messages.expiredNextToken);
  }

  /** Shards not yet past retention: a closed shard disappears once all its records could be gone. */
  private visibleShards(doc: StreamDoc): ShardDoc[] {
    const horizon = this.trimHorizon(doc);
    return doc.shards.filter((s) => s.closedMs === undefined || s.closedMs >= horizon);
  }

  async listShards(
    input: StreamRef & {
      NextToken?: string;
      ExclusiveStartShardId?: string;
      MaxResults?: number;
      StreamCreationTimestamp?: Date;
      ShardFilter?: { Type: string; ShardId?: string; Timestamp?: Date };
    },
  ) {
    let doc: StreamDoc;
    let after = -1;
    let filter: PageState['f'];
    if (input.NextToken !== undefined) {
      if (input.StreamName !== undefined) throw errors.invalidArgument(messages.nextTokenWith('StreamName'));
      if (input.StreamARN !== undefined) throw errors.invalidArgument(messages.nextTokenWith('StreamARN'));
      if (input.ExclusiveStartShardId !== undefined) {
        throw errors.invalidArgument(messages.nextTokenWith('ExclusiveStartShardId'));
      }
      if (input.ShardFilter !== undefined)
        throw errors.invalidArgument(messages.nextTokenWith('ShardFilter'));
      if (input.StreamCreationTimestamp !== undefined) {
        throw errors.invalidArgument(messages.nextTokenWith('StreamCreationTimestamp'));
      }
      const page = openPage<PageState>(this.sealer, input.NextToken);
      if (!page || typeof page.a !== 'number' || page.s === undefined) {
        throw errors.invalidArgument(messages.invalidNextToken);
      }
      this.checkTokenAge(page);
      const found = this.byName.get(page.s);
      if (!found || found.createdMs !== page.c) {
        throw errors.resourceNotFound(messages.streamNotFound(page.s, this.config.accountId));
      }
      doc = checkCell(found, this.config.cell, this.config.accountId);
      after = page.a;
      filter = page.f;
    } else {
      doc = this.find(input, messages.listShardsNeedsStream);
      if (input.ExclusiveStartShardId !== undefined) after = shardIndexOf(input.ExclusiveStartShardId) ?? -1;
      filter = this.shardFilter(input.ShardFilter);
      if (filter?.t === 'AFTER_SHARD_ID' && filter.s !== undefined) after = Math.max(after, filter.s);
    }
    if (doc.status === 'CREATING') {
      throw errors.resourceInUse(messages.streamNotActive(doc.name, this.config.accountId, doc.status));
    }
    const limit = input.MaxResults ?? kinesis.listShardsDefaultResults;
    const shards = this.filterShards(doc, filter).filter((s) => s.index > after);
    const page = shards.slice(0, limit);
    const last = page[page.length - 1];
    return {
      Shards: page.map((s) => this.describeShard(s)),
      NextToken:
        shards.length > page.length && last !== undefined
          ? sealPage(this.sealer, { s: doc.name, c: doc.createdMs, a: last.index, f: filter, t: Date.now() })
          : undefined,
    };
  }

  private shardFilter(
    filter: { Type: string; ShardId?: string; Timestamp?: Date } | undefined,
  ): PageState['f'] {
    if (!filter) return undefined;
    switch (filter.Type) {
      case 'AFTER_SHARD_ID': {
        if (filter.ShardId === undefined) throw errors.invalidArgument(messages.filterNeedsShardId);
        return { t: filter.Type, s: shardIndexOf(filter.ShardId) ?? -1 };
      }
      case 'AT_TIMESTAMP':
      case 'FROM_TIMESTAMP': {
        if (filter.Timestamp === undefined) throw errors.invalidArgument(messages.filterNeedsTimestamp);
        return { t: filter.Type, ts: filter.Timestamp.getTime() };
      }
      default:
        return { t: filter.Type };
    }
  }

  /** Shards a ListShards filter selects, at the time it names. */
  private filterShards(doc: StreamDoc, filter: PageState['f']): ShardDoc[] {
    const visible = this.visibleShards(doc);
    if (!filter) return visible;
    const horizon = Math.max(doc.createdMs, this.trimHorizon(doc));
    const openAt = (s: ShardDoc, t: number) =>
      s.openedMs <= t && (s.closedMs === undefined || s.closedMs > t);
    const openFrom = (s: ShardDoc, t: number) => s.closedMs === undefined || s.closedMs > t;
    switch (filter.t) {
      case 'AT_LATEST':
        return visible.filter((s) => s.closedMs === undefined);
      case 'AT_TRIM_HORIZON':
        return visible.filter((s) => openAt(s, horizon));
      case 'FROM_TRIM_HORIZON':
        return visible.filter((s) => openFrom(s, horizon));
      case 'AT_TIMESTAMP':
        return visible.filter((s) => openAt(s, Math.max(filter.ts ?? 0, doc.createdMs)));
      case 'FROM_TIMESTAMP':
        return visible.filter((s) => openFrom(s, Math.max(filter.ts ?? 0, doc.createdMs)));
      default:
        return visible;
    }
  }

  // ---- data plane --------------------------------------------------------------------------

  /** The open shard whose hash key range holds the record's hash key. */
  private route(doc: StreamDoc, record: RecordInput): ShardDoc {
    let hash: bigint;
    if (doc.mode === 'ON_DEMAND' && doc.recordDistribution === 'AUTO') {
      // AUTO: spread evenly, ignoring the partition and explicit hash keys.
      const bytes = randomBytes(16);
      hash = (bytes.readBigUInt64BE(0) << 64n) | bytes.readBigUInt64BE(8);
    } else if (record.ExplicitHashKey !== undefined) {
      hash = BigInt(record.ExplicitHashKey);
      if (hash > kinesis.maxHashKey)
        throw errors.invalidArgument(messages.invalidHashKey(record.ExplicitHashKey));
    } else {
      hash = hashKeyOf(record.PartitionKey);
    }
    const ranges = this.openRanges(doc);
    // Binary search over the open shards' ranges, which are sorted and cover the whole key space.
    let low = 0;
    let high = ranges.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (hash > (ranges[mid] as OpenRange).end) low = mid + 1;
      else high = mid;
    }
    const found = ranges[low];
    if (!found || hash < found.start || hash > found.end) throw errors.internal();
    return found.shard;
  }

  /** Open shards of a stream document with parsed bounds, sorted by start; cached per document. */
  private openRanges(doc: StreamDoc): OpenRange[] {
    let ranges = this.rangeCache.get(doc);
    if (!ranges) {
      ranges = doc.shards
        .filter((s) => s.closedMs === undefined)
        .map((shard) => ({ start: BigInt(shard.startingHashKey), end: BigInt(shard.endingHashKey), shard }))
        .sort((a, b) => (a.start < b.start ? -1 : 1));
      this.rangeCache.set(doc, ranges);
    }
    return ranges;
  }

  /** The model allows 10 MiB of data; a stream takes its own maximum (1 MiB by default). */
  maxRecordSizeBytes(doc: StreamDoc | undefined): number {
    return doc?.maxRecordSizeKiB === undefined ? this.config.maxRecordSizeBytes : doc.maxRecordSizeKiB * 1024;
  }

  private checkRecordSize(doc: StreamDoc | undefined, record: RecordInput, path: string): void {
    const limit = this.maxRecordSizeBytes(doc);
    if (record.Data.length > limit) {
      throw new KinesisError('ValidationException', messages.dataTooLarge(path, record.Data.length, limit));
    }
  }

  /** What the store keeps for a record: its data sealed under the stream's key when encryption is on. */
  private async stored(
    doc: StreamDoc,
    shard: number,
    record: RecordInput,
    sealed: Map<number, { keyId: string; data: Buffer }>,
    index: number,
  ): Promise<AppendEntry> {
    const entry: AppendEntry = { shard, data: record.Data, partitionKey: record.PartitionKey };
    if (doc.encryptionType === 'KMS' && doc.keyId !== undefined) {
      let done = sealed.get(index);
      if (done?.keyId !== doc.keyId) {
        done = { keyId: doc.keyId, data: await this.keyring.encrypt(doc.keyId, record.Data) };
        sealed.set(index, done);
      }
      entry.data = done.data;
      entry.keyId = doc.keyId;
    }
    return entry;
  }

  /**
   * Arrival time before which a stream's records are gone: the retention period back from now,
   * but never before a floor set when retention was increased (records that had expired by then
   * stay gone, as the service promises, even if trimming has not reclaimed them yet).
   */
  trimHorizon(doc: StreamDoc, nowMs = Date.now()): number {
    return Math.max(nowMs - doc.retentionHours * 3_600_000, doc.retentionFloorMs ?? 0);
  }

  /** A name-keyed lookup that does not throw, for validation that precedes the stream check. */
  private peek(ref: StreamRef): StreamDoc | undefined {
    try {
      return this.find(ref);
    } catch {
      return undefined;
    }
  }

  async putRecord(input: StreamRef & RecordInput & { SequenceNumberForOrdering?: string }) {
    this.checkRecordSize(this.peek(input), input, 'data');
    const doc = this.findActive(input);
    const ordering = input.SequenceNumberForOrdering;
    if (ordering !== undefined) {
      // Any sequence number this service issued is accepted (new records are always later).
      const parts = decodeSequence(ordering);
      if (ordering !== '0' && (!parts || parts.arrivalMs > Date.now())) {
        throw errors.invalidArgument(messages.badOrderingSequence(ordering, doc.name, this.config.accountId));
      }
    }
    const { shards, appended: all, encrypted } = await this.appendRouted(input, [input]);
    const shard = shards[0];
    const appended = all[0];
    if (!shard) throw errors.internal();
    if (!appended) {
      throw errors.throughputExceeded(
        messages.writeRateExceeded(shardIdOf(shard.index), doc.name, this.config.accountId),
      );
    }
    return {
      ShardId: shardIdOf(shard.index),
      SequenceNumber: encodeSequence({ ...appended, shard: shard.index }),
      EncryptionType: encrypted ? 'KMS' : undefined,
    };
  }

  async putRecords(input: StreamRef & { Records: RecordInput[] }) {
    let total = 0;
    const known = this.peek(input);
    const sizes = input.Records.map((record, i) => {
      this.checkRecordSize(known, record, `records.${i + 1}.member.data`);
      const size = recordSize(record);
      total += size;
      return size;
    });
    this.findActive(input);
    if (total > kinesis.putRecordsMaxBytes) throw errors.invalidArgument(messages.batchTooLarge);
    const { doc, shards, appended, encrypted } = await this.appendRouted(input, input.Records, sizes);
    const shardIds = new Map<number, string>();
    const shardIdFor = (index: number): string => {
      let id = shardIds.get(index);
      if (id === undefined) {
        id = shardIdOf(index);
        shardIds.set(index, id);
      }
      return id;
    };
    return {
      FailedRecordCount: appended.reduce((n, a) => (a ? n : n + 1), 0),
      Records: appended.map((a, i) => {
        const index = (shards[i] as ShardDoc).index;
        if (!a) {
          return {
            ErrorCode: 'ProvisionedThroughputExceededException',
            ErrorMessage: messages.writeRateExceeded(shardIdFor(index), doc.name, this.config.accountId),
          };
        }
        return {
          SequenceNumber: encodeSequence({ arrivalMs: a.arrivalMs, shard: index, position: a.position }),
          ShardId: shardIdFor(index),
        };
      }),
      EncryptionType: encrypted ? 'KMS' : undefined,
    };
  }

  /**
   * Route records to the open shards of the stream and append them. A resharding may seal a
   * shard between routing and the append: the store then refuses the whole append, and the
   * records are routed again on the new shard map (bounded attempts).
   */
  private async appendRouted(
    ref: StreamRef,
    records: RecordInput[],
    sizes = records.map(recordSize),
  ): Promise<{
    doc: StreamDoc;
    shards: ShardDoc[];
    appended: Array<Appended | undefined>;
    encrypted: boolean;
  }> {
    // Data sealed for encryption at rest, kept across attempts: a store that recognises a retried
    // entry by its content (NATS message ids) sees the same bytes again.
    const sealed = new Map<number, { keyId: string; data: Buffer }>();
    let admitted: boolean[] | undefined;
    for (let attempt = 1; ; attempt++) {
      const doc = this.findActive(ref);
      const shards = records.map((record) => this.route(doc, record));
      // Records over their shard's write limit are refused in place (charged once per call).
      admitted ??= records.map((_, i) =>
        this.throttle.admitWrite(doc.key, (shards[i] as ShardDoc).index, sizes[i] ?? 0),
      );
      const accepted = admitted;
      let entries: AppendEntry[];
      if (doc.encryptionType === 'KMS' && doc.keyId !== undefined) {
        entries = await Promise.all(
          records.flatMap((record, i) =>
            accepted[i] ? [this.stored(doc, (shards[i] as ShardDoc).index, record, sealed, i)] : [],
          ),
        );
      } else {
        // Plain data goes to the store as it came (no promise per record on this hot path).
        entries = [];
        records.forEach((record, i) => {
          if (accepted[i]) {
            entries.push({
              shard: (shards[i] as ShardDoc).index,
              data: record.Data,
              partitionKey: record.PartitionKey,
            });
          }
        });
      }
      try {
        const stored = entries.length > 0 ? await this.store.append(doc.key, entries) : [];
        let next = 0;
        const appended = accepted.map((ok) => (ok ? stored[next++] : undefined));
        this.afterAppend(doc, shards, sizes, appended);
        return { doc, shards, appended, encrypted: entries[0]?.keyId !== undefined };
      } catch (error) {
        if (!(error instanceof ShardSealedError) || attempt >= engineDefaults.casAttempts) throw error;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Tell the subscribers, the on-demand meter and the metrics what an append did. */
  private afterAppend(
    doc: StreamDoc,
    shards: ShardDoc[],
    sizes: number[],
    appended: Array<Appended | undefined>,
  ): void {
    const touched = new Set<number>();
    // Counted per shard, then told to the metrics once per shard (not once per record).
    const perShard = new Map<number, { records: number; bytes: number }>();
    let records = 0;
    let bytes = 0;
    appended.forEach((a, i) => {
      const shard = (shards[i] as ShardDoc).index;
      if (a) {
        touched.add(shard);
        records++;
        bytes += sizes[i] ?? 0;
        const counts = perShard.get(shard);
        if (counts) {
          counts.records++;
          counts.bytes += sizes[i] ?? 0;
        } else perShard.set(shard, { records: 1, bytes: sizes[i] ?? 0 });
      } else {
        this.metrics?.writeThrottled(doc.name, shard);
      }
    });
    for (const [shard, counts] of perShard)
      this.metrics?.incoming(doc.name, shard, counts.records, counts.bytes);
    if (touched.size > 0) for (const listener of this.appendListeners) listener(doc.key, touched);
    if (doc.mode === 'ON_DEMAND' && records > 0) this.scaler.noteWrite(doc.key, records, bytes);
  }

  async getShardIterator(
    input: StreamRef & {
      ShardId: string;
      ShardIteratorType: string;
      StartingSequenceNumber?: string;
      Timestamp?: Date;
    },
  ) {
    // The service resolves the shard id first, then the stream, then the shard within it.
    const index = shardIndexOf(input.ShardId);
    if (index === undefined) {
      const { name } = this.nameOf(input, messages.streamNameOrArnRequired);
      throw errors.resourceNotFound(messages.shardUnresolvable(input.ShardId, name, this.config.accountId));
    }
    const shardId = shardIdOf(index);
    let doc: StreamDoc | undefined;
    try {
      doc = this.find(input);
    } catch (error) {
      const { name, account } = this.nameOf(input, messages.streamNameOrArnRequired);
      if (
        error instanceof KinesisError &&
        error.type === 'ResourceNotFoundException' &&
        !(error instanceof WrongCellError)
      ) {
        throw errors.resourceNotFound(messages.shardNotFound(shardId, name, account));
      }
      throw error;
    }
    const shard = doc.status === 'CREATING' ? undefined : doc.shards.find((s) => s.index === index);
    if (!shard)
      throw errors.resourceNotFound(messages.shardNotFound(shardId, doc.name, this.config.accountId));
    if (doc.status === 'DELETING')
      throw errors.resourceNotFound(messages.streamNotFound(doc.name, this.config.accountId));
    const position = await this.startPosition(
      doc,
      shard,
      input.ShardIteratorType,
      input.StartingSequenceNumber,
      input.Timestamp,
    );
    return {
      ShardIterator: sealIterator(this.sealer, {
        streamName: doc.name,
        streamKey: doc.key,
        shard: shard.index,
        position,
        issuedMs: Date.now(),
      }),
    };
  }

  /** The store position a starting position names (GetShardIterator, SubscribeToShard). */
  async startPosition(
    doc: StreamDoc,
    shard: ShardDoc,
    type: string,
    seq: string | undefined,
    timestamp: Date | undefined,
  ): Promise<number> {
    const shardId = shardIdOf(shard.index);
    let position: number;
    switch (type) {
      case 'AT_SEQUENCE_NUMBER':
      case 'AFTER_SEQUENCE_NUMBER': {
        if (seq === undefined) throw errors.invalidArgument(messages.sequenceRequired(type));
        const parts = decodeSequence(seq);
        const account = this.config.accountId;
        if (!parts) throw errors.invalidArgument(messages.badSequence(seq, shardId, doc.name, account));
        if (parts.shard !== shard.index) {
          throw errors.invalidArgument(messages.otherShardSequence(shardIdOf(parts.shard), shardId));
        }
        const tip = await this.store.tip(doc.key, shard.index);
        // A sequence number of an earlier stream of the same name, or one not issued yet.
        if (parts.arrivalMs < shard.openedMs || parts.position > tip.nextPosition) {
          throw errors.invalidArgument(messages.foreignSequence(seq, shardId, doc.name, account));
        }
        position = type === 'AT_SEQUENCE_NUMBER' ? Math.max(0, parts.position) : parts.position + 1;
        break;
      }
      case 'AT_TIMESTAMP': {
        if (timestamp === undefined) throw errors.invalidArgument(messages.timestampRequired);
        const at = timestamp.getTime();
        const now = Date.now();
        if (at > now) throw errors.invalidArgument(messages.timestampInFuture(at, now));
        position = await this.store.positionAt(doc.key, shard.index, at);
        break;
      }
      case 'TRIM_HORIZON':
        if (seq !== undefined) throw errors.invalidArgument(messages.sequenceNotExpected(type));
        position = await this.store.positionAt(doc.key, shard.index, this.trimHorizon(doc));
        break;
      default: // LATEST
        if (seq !== undefined) throw errors.invalidArgument(messages.sequenceNotExpected(type));
        position = (await this.store.tip(doc.key, shard.index)).nextPosition;
    }
    return position;
  }

  async getRecords(input: { ShardIterator: string; Limit?: number; StreamARN?: string }) {
    // The service also accepts an iterator wrapped in double quotes.
    const token = input.ShardIterator.replace(/^"(.*)"$/, '$1');
    const it = openIterator(this.sealer, token);
    if (!it) throw errors.invalidArgument(messages.invalidIterator);
    const now = Date.now();
    if (now - it.issuedMs > this.config.iteratorTtlMs) {
      throw errors.expiredIterator(messages.expiredIterator(it.issuedMs, now, this.config.iteratorTtlMs));
    }
    const doc = this.byKey.get(it.streamKey);
    if (!doc || (input.StreamARN !== undefined && input.StreamARN !== this.arnOf(doc.name))) {
      throw errors.resourceNotFound(
        messages.shardNotFound(shardIdOf(it.shard), it.streamName, this.config.accountId),
      );
    }
    checkCell(doc, this.config.cell, this.config.accountId);
    const shard = doc.shards.find((s) => s.index === it.shard);
    if (!shard) {
      throw errors.resourceNotFound(
        messages.shardNotFound(shardIdOf(it.shard), doc.name, this.config.accountId),
      );
    }
    if (!this.throttle.admitRead(doc.key, shard.index, now)) {
      this.metrics?.readThrottled(doc.name, shard.index);
      throw errors.throughputExceeded(
        messages.readRateExceeded(this.config.accountId, doc.name, shardIdOf(shard.index)),
      );
    }
    const read = await this.readShard(
      doc,
      shard,
      it.position,
      input.Limit ?? kinesis.getRecordsMaxRecords,
      kinesis.getRecordsMaxBytes,
      now,
    );
    this.throttle.chargeRead(doc.key, shard.index, read.bytes, now);
    this.metrics?.outgoing(doc.name, shard.index, read.records.length, read.bytes, read.millisBehindLatest);
    return {
      Records: read.records,
      NextShardIterator: read.ended
        ? undefined
        : sealIterator(this.sealer, { ...it, position: read.next, issuedMs: now }),
      MillisBehindLatest: read.millisBehindLatest,
      ChildShards: read.childShards,
    };
  }

  /**
   * Read a shard from a position (GetRecords, SubscribeToShard): the records in the API's shape,
   * where to read next, how far behind the tip that is, and whether the shard has ended (sealed,
   * nothing left), with its children then.
   */
  async readShard(
    doc: StreamDoc,
    shard: ShardDoc,
    position: number,
    maxCount: number,
    maxBytes: number,
    now = Date.now(),
  ) {
    const { records, tip } = await this.store.read({
      streamKey: doc.key,
      shard: shard.index,
      fromPosition: position,
      minArrivalMs: this.trimHorizon(doc, now),
      maxCount: Math.min(maxCount, kinesis.getRecordsMaxRecords),
      maxBytes,
    });
    const last = records[records.length - 1];
    const next = last ? last.position + 1 : position;
    const caughtUp = next >= tip.nextPosition;
    // A sealed shard with nothing left to read has ended: no next iterator, its children instead.
    const ended =
      records.length === 0 &&
      (tip.sealed === true || (shard.endPosition !== undefined && next >= shard.endPosition));
    const toApi = (r: (typeof records)[number], data: Buffer) => ({
      SequenceNumber: encodeSequence({ arrivalMs: r.arrivalMs, shard: shard.index, position: r.position }),
      ApproximateArrivalTimestamp: new Date(r.arrivalMs),
      Data: data,
      PartitionKey: r.partitionKey,
      EncryptionType: r.keyId === undefined ? undefined : ('KMS' as const),
    });
    // Plain records are shaped without a promise each (up to 10,000 per call).
    const out = records.some((r) => r.keyId !== undefined)
      ? await Promise.all(
          records.map(async (r) =>
            toApi(r, r.keyId === undefined ? r.data : await this.keyring.decrypt(r.keyId, r.data)),
          ),
        )
      : records.map((r) => toApi(r, r.data));
    let bytes = 0;
    for (const r of records) bytes += r.data.length;
    return {
      records: out,
      bytes,
      next,
      lastArrivalMs: last?.arrivalMs,
      ended,
      millisBehindLatest: caughtUp || !last ? 0 : Math.max(0, now - last.arrivalMs),
      childShards: ended ? this.childShards(doc, shard) : undefined,
    };
  }

  childShards(doc: StreamDoc, parent: ShardDoc) {
    return doc.shards
      .filter((s) => s.parentIndex === parent.index || s.adjacentParentIndex === parent.index)
      .map((s) => ({
        ShardId: shardIdOf(s.index),
        ParentShards: [s.parentIndex, s.adjacentParentIndex]
          .filter((i): i is number => i !== undefined)
          .map(shardIdOf),
        HashKeyRange: { StartingHashKey: s.startingHashKey, EndingHashKey: s.endingHashKey },
      }));
  }

  // ---- capacity ------------------------------------------------------------------------------

  /** Apply the ON_DEMAND capacity policy to every stream (a periodic check). */
  private async scaleAll(): Promise<void> {
    if (!this.owner.isOwner) return;
    for (const doc of [...this.streams()]) {
      if (doc.mode === 'ON_DEMAND' && doc.status === 'ACTIVE') await this.sampleCounters(doc);
      const target = this.scaler.target(doc);
      if (target === undefined) continue;
      try {
        await scaleOnDemand(this, doc.name, target);
      } catch {
        // A concurrent change won; the next check looks again.
      }
    }
  }

  /** The owner samples an ON_DEMAND stream's write counters from the store (every frontend's
   * writes): one request per open shard per check. */
  private async sampleCounters(doc: StreamDoc): Promise<void> {
    const count = this.store.writeCounters?.bind(this.store);
    if (!count) return;
    const now = Date.now();
    const shards = new Map<number, { records: number; bytes: number }>();
    try {
      for (const shard of doc.shards)
        if (shard.closedMs === undefined) shards.set(shard.index, await count(doc.key, shard.index));
    } catch {
      return; // the next check samples again
    }
    this.scaler.noteCounters(doc.key, shards, now);
  }

  // ---- retention -----------------------------------------------------------------------------

  /** Reclaim space of records past retention, a bounded number of rows per shard per pass. */
  private async trimAll(): Promise<void> {
    if (!this.owner.isOwner) return;
    const now = Date.now();
    for (const doc of this.streams()) {
      for (const shard of doc.shards) {
        try {
          await this.store.trim(
            doc.key,
            shard.index,
            this.trimHorizon(doc, now),
            engineDefaults.trimBatchRows,
          );
        } catch {
          // Trimming is space reclamation only (reads already hide expired records); retry next pass.
        }
      }
    }
  }
}

/** What a record counts against the size limits and the throughput: its data and its partition key. */
function recordSize(record: RecordInput): number {
  return record.Data.length + Buffer.byteLength(record.PartitionKey, 'utf8');
}

export { KinesisError };
