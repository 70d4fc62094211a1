import { randomBytes } from 'node:crypto';
import type { ConsumerMessages, JetStreamClient } from '@nats-io/jetstream';
import { jetstream } from '@nats-io/jetstream';
import { connect, type MsgHdrs, type NatsConnection, nuid } from '@nats-io/transport-node';
import { cellOf, defaultCell } from '../engine/cells.js';
import { fleet, nats, storeHealth } from '../limits.js';
import {
  ApiError,
  backoffMs,
  followLog,
  forEachLimited,
  getMessage,
  jsErr,
  LogProgress,
  NoRespondersError,
  nanos,
  newHeaders,
  Requester,
  RequestTimeoutError,
  rawHeaders,
  type StoredMsg,
  sleep,
} from './nats/client.js';
import { LeaseLog } from './nats/leases.js';
import {
  type AppendEntry,
  type Appended,
  type Lease,
  type LeaseBody,
  type MetaChange,
  type MetaStatus,
  type ReadRequest,
  type ReadResult,
  type Setting,
  ShardSealedError,
  type ShardTip,
  type Store,
  type StoredRecord,
  StoreUnavailableError,
  type StreamDoc,
} from './store.js';

/** The store's bounds live in src/limits.ts (`nats`); the name is kept for this file's readers. */
export const natsLimits = nats;

export interface NatsStoreOptions {
  /** `host:port` of one or more servers of the cluster. */
  servers: string[];
  /** Replicas of every JetStream stream the store creates; default 3 when the server is part of
   * a cluster, 1 otherwise. */
  replicas?: number;
  /** Names of JetStream streams and subjects start with this, so several Sluice deployments can
   * share a NATS account. */
  prefix?: string;
  /** Place each cell's record streams on the servers tagged `cell:NAME` (`server_tags` in the
   * nats-server configuration) with JetStream placement tags (`?placement=cell`). The metadata
   * log is never tag-placed: every frontend of every cell reads it. */
  cellPlacement?: boolean;
  /** The cell of this frontend: with cellPlacement, open checks that servers are tagged for it. */
  cell?: string;
  log?: (line: string) => void;
}

/** `nats://host:port[,host:port...][?replicas=N&prefix=P&placement=cell]` */
export function parseNatsUrl(url: string): NatsStoreOptions {
  const match = /^nats:\/\/([^?/]+)\/?(?:\?(.*))?$/.exec(url);
  if (!match) throw new Error(`not a NATS store URL: ${url} (nats://host:port[,host:port...])`);
  const servers = (match[1] as string).split(',').filter((s) => s.length > 0);
  const options: NatsStoreOptions = { servers };
  for (const [key, value] of new URLSearchParams(match[2] ?? '')) {
    if (key === 'replicas') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > 5) throw new Error('replicas must be an integer from 1 to 5');
      options.replicas = n;
    } else if (key === 'prefix') {
      options.prefix = value;
    } else if (key === 'placement') {
      if (value !== 'cell' && value !== 'none') throw new Error('placement must be cell or none');
      options.cellPlacement = value === 'cell';
    } else throw new Error(`unknown NATS store option ${key}`);
  }
  return options;
}

/**
 * An append partly committed before a shard turned out sealed (appends over several JetStream
 * streams cannot be atomic): `appended` holds what each entry got, undefined where nothing was
 * stored. It is a ShardSealedError, so the engine routes the call again.
 */
export class ShardSealedPartialError extends ShardSealedError {
  constructor(
    shard: number,
    readonly appended: Array<Appended | undefined>,
  ) {
    super(shard);
  }
}

/** An entry not sent because another entry of its call met a sealed shard. Never stored. */
class CallAbortedError extends Error {}

const header = {
  msgId: 'Nats-Msg-Id',
  expectedSeq: 'Nats-Expected-Last-Sequence',
  expectedMsgId: 'Nats-Expected-Last-Msg-Id',
  arrival: 'Sluice-At',
  partitionKey: 'Sluice-Pk',
  partitionKey64: 'Sluice-Pk64',
  keyId: 'Sluice-Kid',
  seal: 'Sluice-Seal',
} as const;

/** Header values are trimmed and cannot hold CR or LF: other partition keys go in base64. */
function plainHeaderValue(value: string): boolean {
  return value === value.trim() && !/[\r\n]/.test(value);
}

function encodeName(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

function decodeName(token: string): string {
  return Buffer.from(token, 'base64url').toString('utf8');
}

/** The last message of a shard stream as the store needs it. */
interface LogTip {
  lastSeq: number;
  /** Arrival of the newest record (a seal marker carries it too). */
  lastArrival: number;
  /** Sequence of the seal marker once the shard is sealed. */
  sealSeq?: number;
  /** Message id of the last message. */
  msgId?: string;
}

function shardTipOf(tip: LogTip | undefined): ShardTip {
  if (!tip) return { nextPosition: 0, lastArrivalMs: 0 };
  // Position = JetStream sequence - 1. A seal marker takes the sequence after the last record,
  // so its position is the shard's end.
  return tip.sealSeq !== undefined
    ? { nextPosition: tip.sealSeq - 1, lastArrivalMs: tip.lastArrival, sealed: true }
    : { nextPosition: tip.lastSeq, lastArrivalMs: tip.lastArrival };
}

/** Sequence of the last record (not a seal marker) of a shard stream. */
function lastRecordSeq(tip: LogTip): number {
  return tip.sealSeq !== undefined ? tip.sealSeq - 1 : tip.lastSeq;
}

function arrivalOf(headers: MsgHdrs | undefined, fallbackMs: number): number {
  const value = Number(headers?.get(header.arrival));
  return Number.isFinite(value) && headers?.has(header.arrival) ? value : fallbackMs;
}

function recordOf(seq: number, headers: MsgHdrs | undefined, data: Uint8Array, timeMs: number) {
  if (headers?.has(header.seal)) return undefined;
  const pk64 = headers?.get(header.partitionKey64);
  const record: StoredRecord = {
    position: seq - 1,
    arrivalMs: arrivalOf(headers, timeMs),
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    partitionKey: pk64
      ? Buffer.from(pk64, 'base64').toString('utf8')
      : (headers?.get(header.partitionKey) ?? ''),
  };
  const keyId = headers?.get(header.keyId);
  if (keyId) record.keyId = keyId;
  return record;
}

function recordBytes(record: StoredRecord): number {
  return record.data.length + Buffer.byteLength(record.partitionKey);
}

/** Who is told when an item is stored or refused: an append call, or a seal. */
interface ItemOwner {
  /** Set when an entry of the call met a sealed shard: its entries not yet sent are not sent. */
  aborted?: boolean;
  settled(item: Item, error: unknown, seq?: number, arrivalMs?: number): void;
}

/** One record or seal on its way into a shard stream. */
interface Item {
  kind: 'record' | 'seal';
  owner: ItemOwner;
  /** Index of the entry in its append call. */
  index: number;
  msgId: string;
  data: Buffer;
  partitionKey: string;
  keyId?: string;
  deadline: number;
  /** Submission order, to resend failed items in order. */
  order: number;
  /** Arrival carried by the item's last send. */
  sentArrival: number;
}

/** The largest value noted in the current and the previous window of `windowMs` (two buckets:
 * constant memory, a value counts for one to two windows). */
class RecentMax {
  private start = 0;
  private current = 0;
  private previous = 0;

  constructor(private readonly windowMs: number) {}

  private roll(now: number): void {
    if (now - this.start < this.windowMs) return;
    this.previous = now - this.start < 2 * this.windowMs ? this.current : 0;
    this.current = 0;
    this.start = now;
  }

  note(value: number, now = Date.now()): void {
    this.roll(now);
    if (value > this.current) this.current = value;
  }

  max(now = Date.now()): number {
    this.roll(now);
    return Math.max(this.current, this.previous);
  }
}

function settle(item: Item, error: unknown, seq?: number, arrivalMs?: number): void {
  item.owner.settled(item, error, seq, arrivalMs);
}

/** The entries of one append call: results by index, resolved when every entry is settled. */
class AppendCall implements ItemOwner {
  aborted = false;
  sealed: ShardSealedError | undefined;
  failure: unknown;
  readonly done: Promise<void>;
  private resolve: () => void = () => {};

  constructor(
    readonly results: Array<Appended | undefined>,
    private remaining: number,
  ) {
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  settled(item: Item, error: unknown, seq?: number, arrivalMs?: number): void {
    if (error === undefined)
      this.results[item.index] = { position: (seq as number) - 1, arrivalMs: arrivalMs as number };
    else if (error instanceof ShardSealedError) this.sealed ??= error;
    else if (!(error instanceof CallAbortedError)) this.failure ??= error;
    if (--this.remaining === 0) this.resolve();
  }
}

/**
 * The writer of one shard stream in this frontend. Every message is published with the
 * sequence the stream must be at (Nats-Expected-Last-Sequence) and, after the first of a chain,
 * the message id of its predecessor (Nats-Expected-Last-Msg-Id), all pipelined. So a chain lands
 * contiguously and in order, or from its first refused message on not at all, whatever other
 * frontends append: arrival times stamped here from the shard's last arrival never decrease, and
 * a seal marker (published the same way, by any frontend) refuses every later append that did
 * not know of it. A refused chain is resent after reading the stream's last message again; a
 * lost answer is resent with the same message id, which the stream deduplicates.
 */
class ShardLog {
  /** Confirmed state (read from the stream or from our acks); undefined until first read. */
  private tip: LogTip | undefined;
  /** State after the last message sent (optimistic). */
  private chainSeq = 0;
  private chainArrival = 0;
  private chainMsgId = '';
  private queue: Item[] = [];
  private readonly inflight = new Set<Item>();
  private failed: Item[] = [];
  private broken = false;
  private recovering = false;
  private attempts = 0;
  /** Nothing is sent after a seal marker until its answer (whatever follows it is refused). */
  private sealInFlight = false;
  private dropped = false;

  constructor(
    private readonly store: NatsStore,
    readonly streamKey: number,
    readonly shard: number,
    readonly stream: string,
    readonly subject: string,
  ) {}

  /** True once this frontend knows the shard is sealed (seals are final). */
  get knownSealed(): boolean {
    return this.tip?.sealSeq !== undefined;
  }

  /** When the oldest item this frontend has waiting for the shard (queued, sent or to resend) was
   * submitted, or undefined when none waits. */
  oldestWaitingSince(): number | undefined {
    let deadline = Number.POSITIVE_INFINITY;
    const first = this.inflight.values().next();
    for (const item of [this.queue[0], this.failed[0], first.done ? undefined : first.value])
      if (item !== undefined && item.deadline < deadline) deadline = item.deadline;
    return deadline === Number.POSITIVE_INFINITY ? undefined : deadline - natsLimits.writeDeadlineMs;
  }

  /** The stream was deleted: everything still queued fails. */
  drop(): void {
    this.dropped = true;
    this.pump();
  }

  submit(items: Item[]): void {
    for (const item of items) this.queue.push(item);
    this.pump();
  }

  private pump(): void {
    if (this.dropped) {
      const queued = this.queue;
      this.queue = [];
      for (const item of queued) settle(item, new Error(`stream key ${this.streamKey} was deleted`));
      return;
    }
    if (this.recovering || this.broken) return;
    if (!this.tip) {
      void this.recover();
      return;
    }
    while (
      this.queue.length > 0 &&
      this.inflight.size < natsLimits.maxInflightPerShard &&
      !this.sealInFlight
    ) {
      const item = this.queue.shift() as Item;
      if (item.owner.aborted) settle(item, new CallAbortedError());
      else if (this.tip.sealSeq !== undefined) this.settleSealed(item);
      else if (Date.now() > item.deadline) settle(item, new Error('append timed out'));
      else this.send(item);
    }
  }

  private settleSealed(item: Item): void {
    const tip = this.tip as LogTip;
    if (item.kind === 'seal') settle(item, undefined, tip.sealSeq, tip.lastArrival);
    else {
      item.owner.aborted = true;
      settle(item, new ShardSealedError(this.shard));
    }
  }

  private send(item: Item): void {
    const arrival = item.kind === 'seal' ? this.chainArrival : Math.max(Date.now(), this.chainArrival);
    const pairs: Array<[string, string]> = [
      [header.msgId, item.msgId],
      [header.expectedSeq, String(this.chainSeq)],
    ];
    if (this.chainMsgId) pairs.push([header.expectedMsgId, this.chainMsgId]);
    pairs.push([header.arrival, String(arrival)]);
    if (item.kind === 'seal') pairs.push([header.seal, '1']);
    else {
      if (plainHeaderValue(item.partitionKey)) pairs.push([header.partitionKey, item.partitionKey]);
      else pairs.push([header.partitionKey64, Buffer.from(item.partitionKey, 'utf8').toString('base64')]);
      if (item.keyId !== undefined) pairs.push([header.keyId, item.keyId]);
    }
    item.sentArrival = arrival;
    this.chainSeq += 1;
    this.chainArrival = arrival;
    this.chainMsgId = item.msgId;
    this.inflight.add(item);
    if (item.kind === 'seal') this.sealInFlight = true;
    this.store.requester.publish(this.subject, item.data, rawHeaders(pairs)).then(
      (ack) => this.onAck(item, ack.seq, ack.duplicate === true),
      (error: unknown) => this.onFail(item, error),
    );
  }

  private onAck(item: Item, seq: number, duplicate: boolean): void {
    this.inflight.delete(item);
    if (item.kind === 'seal') this.sealInFlight = false;
    if (duplicate) {
      // An earlier send of this message was stored (its answer was lost): the chain built on
      // guesses is no longer trusted, and the record's arrival is the stored copy's.
      this.broken = true;
      if (item.kind === 'seal') this.failed.push(item);
      else void this.readBack(item, seq);
    } else {
      this.attempts = 0;
      if (!this.tip || seq > this.tip.lastSeq) {
        this.tip = {
          lastSeq: seq,
          lastArrival: item.sentArrival,
          sealSeq: item.kind === 'seal' ? seq : undefined,
        };
      }
      settle(item, undefined, seq, item.sentArrival);
      if (item.kind === 'seal') {
        // Everything this frontend queued after the seal is refused.
        const queued = this.queue;
        this.queue = [];
        for (const other of queued) this.settleSealed(other);
      }
    }
    this.afterSettle();
  }

  private async readBack(item: Item, seq: number): Promise<void> {
    try {
      const stored = await getMessage(this.store.requester, this.stream, { seq });
      if (!stored) throw new Error(`record ${seq} of ${this.stream} vanished`);
      settle(item, undefined, seq, arrivalOf(stored.headers, stored.timeMs));
    } catch (error) {
      settle(item, error);
    }
  }

  private onFail(item: Item, error: unknown): void {
    this.inflight.delete(item);
    if (item.kind === 'seal') this.sealInFlight = false;
    this.broken = true;
    // Refused for good (too large, connection closed): only this item fails; those sent after it
    // fail their chain check and are sent again.
    if (isTransient(error)) this.failed.push(item);
    else settle(item, error);
    this.afterSettle();
  }

  private afterSettle(): void {
    if (this.broken) {
      if (this.inflight.size === 0) void this.recover();
    } else this.pump();
  }

  /** Once nothing is in flight: read the stream's last message and send the rest again. */
  private async recover(): Promise<void> {
    if (this.recovering) return;
    this.recovering = true;
    try {
      if (this.failed.length > 0) {
        this.failed.sort((a, b) => a.order - b.order);
        this.queue = [...this.failed, ...this.queue];
        this.failed = [];
      }
      for (;;) {
        if (this.dropped) break;
        if (this.attempts > 0)
          await sleep(backoffMs(this.attempts, natsLimits.retryBaseMs, natsLimits.retryMaxMs));
        this.attempts++;
        try {
          this.tip = await this.store.readWriterTip(this);
          break;
        } catch (error) {
          // The stream cannot be read (leader election, or its Kinesis stream is gone): give up
          // on what is past its deadline, keep trying for the rest.
          const keep: Item[] = [];
          for (const item of this.queue) {
            if (Date.now() > item.deadline || !isTransient(error)) settle(item, error);
            else keep.push(item);
          }
          this.queue = keep;
          if (keep.length === 0) {
            this.tip = undefined;
            this.broken = false;
            return;
          }
        }
      }
      const tip = this.tip;
      if (tip) {
        // The stream's last message may be one of ours whose answer was lost: it is stored.
        const mine = tip.msgId ? this.queue.findIndex((item) => item.msgId === tip.msgId) : -1;
        if (mine >= 0) {
          const [item] = this.queue.splice(mine, 1);
          if (item?.kind === 'seal') this.queue.unshift(item);
          else if (item) settle(item, undefined, tip.lastSeq, tip.lastArrival);
        }
        this.chainSeq = tip.lastSeq;
        this.chainArrival = tip.lastArrival;
        this.chainMsgId = '';
      }
      this.broken = false;
    } finally {
      this.recovering = false;
    }
    this.pump();
  }
}

/** Errors after which a write is tried again (until its deadline). */
function isTransient(error: unknown): boolean {
  if (error instanceof RequestTimeoutError || error instanceof NoRespondersError) return true;
  if (error instanceof ApiError)
    return (
      error.errCode === jsErr.clusterNotAvailable ||
      error.errCode === jsErr.wrongLastSequence ||
      error.errCode === jsErr.wrongLastMsgId ||
      error.code === 503
    );
  return false;
}

type MetaKind = 's' | 'c' | 'k';
type StreamEntry = StreamDoc | { deleted: true; key: number; version: number };

interface StreamInfoReply {
  created: string;
  state: { messages: number; first_seq: number; first_ts: string; last_seq: number; last_ts: string };
}

/**
 * The NATS JetStream store (docs/nats-store.md). Records: one JetStream stream per shard,
 * position = stream sequence - 1. Metadata, settings and secrets: one replicated log stream,
 * compare-and-set with Nats-Expected-Last-Sequence on the whole log, read back into an in-memory
 * view by an ordered consumer that also feeds `watch`.
 */
export class NatsStore implements Store {
  readonly kind = 'nats';
  readonly requester: Requester;
  private readonly js: JetStreamClient;
  private readonly prefix: string;
  private readonly metaStream: string;
  private readonly id = nuid.next();
  private counter = 0;
  private readonly log: (line: string) => void;

  // ---- the metadata view (the log replayed) ----
  private viewSeq = 0;
  private readonly streams = new Map<string, StreamEntry>();
  private readonly liveKeys = new Map<number, string>();
  private readonly settings = new Map<string, Setting>();
  private readonly secrets = new Map<string, Buffer>();
  private readonly watchers = new Set<(change: MetaChange) => void>();
  private readonly progress = new LogProgress('metadata log', natsLimits.requestTimeoutMs * 2);
  private metaMessages: ConsumerMessages | undefined;
  private metaTail: Promise<unknown> = Promise.resolve();

  private readonly shardLogs = new Map<string, ShardLog>();
  /** How long appends waited, for admission (appendWaitMs). */
  private readonly appendWaits = new RecentMax(1_000);
  private readonly creating = new Map<string, Promise<void>>();
  /** Results of entries stored by an append that then met a sealed shard, by data buffer: the
   * engine's retry of the same call (same buffers) gets them back instead of storing them twice. */
  private readonly committed = new WeakMap<
    Buffer,
    Array<{ streamKey: number; shard: number; partitionKey: string; appended: Appended }>
  >();
  private closing = false;
  /** Reads use message gets only until then (read consumers failed). */
  private consumerReadsOffUntil = 0;
  private readonly cellPlacement: boolean;

  // ---- reachability and the view's lag (for /health) ----
  /** Set while disconnected from every server (since when), and once that lasted
   * `storeHealth.unreachableAfterMs`, why the store is unreachable. */
  private disconnectedSinceMs: number | undefined;
  private unreachable: string | undefined;
  private unreachableTimer: NodeJS.Timeout | undefined;
  private metaStatusTimer: NodeJS.Timeout | undefined;
  private measuring = false;
  private metaLag: number | undefined;
  private metaLagMeasuredMs: number | undefined;
  /** Leases (their own replicated stream, see src/store/nats/leases.ts). */
  private readonly leases: LeaseLog;

  private constructor(
    private readonly nc: NatsConnection,
    readonly replicas: number,
    private readonly options: NatsStoreOptions,
  ) {
    this.prefix = options.prefix ?? 'sluice';
    if (!/^[A-Za-z0-9_-]+$/.test(this.prefix)) throw new Error('NATS store prefix: letters, digits, _ and -');
    this.metaStream = `${this.prefix}_meta`;
    this.cellPlacement = options.cellPlacement === true;
    this.log = options.log ?? (() => {});
    this.requester = new Requester(nc, natsLimits.requestTimeoutMs, natsLimits.timeoutSweepMs);
    this.requester.gate = () =>
      this.unreachable === undefined ? undefined : new StoreUnavailableError(this.unreachable);
    this.js = jetstream(nc, { timeout: natsLimits.requestTimeoutMs });
    this.leases = new LeaseLog(
      this.requester,
      this.js,
      `${this.prefix}_lease`,
      `${this.prefix}.lease`,
      natsLimits,
      this.log,
      () => this.nextMsgId(),
    );
    this.followConnection();
  }

  /**
   * A frontend cut off from every server answers at once instead of letting requests wait for
   * answers that cannot come: after `storeHealth.unreachableAfterMs` disconnected, requests
   * waiting fail and new ones are refused with StoreUnavailableError (the API answers 503) until
   * the client reconnects (it never stops trying). Reconnecting to another node of a cluster takes
   * milliseconds, well within that time, so a node's loss alone never does this.
   */
  private followConnection(): void {
    const run = async () => {
      for await (const status of this.nc.status()) {
        if (status.type === 'disconnect' && this.disconnectedSinceMs === undefined) {
          const since = Date.now();
          this.disconnectedSinceMs = since;
          clearTimeout(this.unreachableTimer);
          this.unreachableTimer = setTimeout(() => {
            if (this.disconnectedSinceMs !== since || this.closing) return;
            this.unreachable = `Sluice cannot reach its store: disconnected from every NATS server (${this.servers}) since ${new Date(since).toISOString()}; retry with backoff.`;
            this.log(`NATS store: unreachable (disconnected since ${new Date(since).toISOString()})`);
            this.requester.failAll(new StoreUnavailableError(this.unreachable));
          }, storeHealth.unreachableAfterMs);
          this.unreachableTimer.unref();
        } else if (status.type === 'reconnect') {
          clearTimeout(this.unreachableTimer);
          if (this.unreachable !== undefined) this.log(`NATS store: reconnected to ${status.server}`);
          this.disconnectedSinceMs = undefined;
          this.unreachable = undefined;
          this.metaLag = undefined;
          void this.measureMeta();
        }
      }
    };
    void run().catch((error: unknown) => this.log(`NATS store: connection status: ${error}`));
  }

  private get servers(): string {
    return this.options.servers.join(', ');
  }

  /** Measure the view's lag behind the metadata log now and then (what /health shows). */
  private startMetaStatus(): void {
    this.metaStatusTimer = setInterval(() => void this.measureMeta(), storeHealth.metaStatusRefreshMs);
    this.metaStatusTimer.unref();
    void this.measureMeta();
  }

  private async measureMeta(): Promise<void> {
    if (this.measuring || this.closing || this.unreachable !== undefined) return;
    this.measuring = true;
    try {
      const info = await this.requester.api<StreamInfoReply>(`$JS.API.STREAM.INFO.${this.metaStream}`);
      this.metaLag = Math.max(0, info.state.last_seq - this.viewSeq);
      this.metaLagMeasuredMs = Date.now();
    } catch {
      // Shown as the last measurement's age; the next tick tries again.
    } finally {
      this.measuring = false;
    }
  }

  metaStatus(): MetaStatus {
    return {
      version: this.viewSeq,
      lag: this.metaLag,
      measuredMs: this.metaLagMeasuredMs,
      unreachable: this.unreachable,
    };
  }

  /** Connect, make sure the metadata log exists, and replay it. */
  static async open(options: NatsStoreOptions): Promise<NatsStore> {
    const deadline = Date.now() + natsLimits.openTimeoutMs;
    let nc: NatsConnection | undefined;
    for (let attempt = 0; !nc; attempt++) {
      try {
        nc = await connect({
          servers: options.servers,
          name: 'sluice',
          maxReconnectAttempts: -1,
          reconnectTimeWait: natsLimits.reconnectWaitMs,
          pingInterval: natsLimits.pingIntervalMs,
          maxPingOut: natsLimits.maxPingsOut,
          timeout: natsLimits.connectTimeoutMs,
        });
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(backoffMs(attempt, natsLimits.adminRetryBaseMs, natsLimits.adminRetryMaxMs));
      }
    }
    const info = nc.info;
    if ((info?.max_payload ?? 0) < natsLimits.minServerMaxPayloadBytes) {
      await nc.close();
      throw new Error(
        `the NATS server's max_payload is ${info?.max_payload} bytes; the store needs at least ` +
          `${natsLimits.minServerMaxPayloadBytes} (records up to 10 MiB): set max_payload: 16MB`,
      );
    }
    const replicas = options.replicas ?? (info?.cluster ? 3 : 1);
    const store = new NatsStore(nc, replicas, options);
    try {
      await store.ensureMetaStream(deadline);
      if (store.cellPlacement && options.cell !== undefined)
        await store.checkCellPlacement(options.cell, deadline);
      store.startMetaConsumer();
      await store.syncMeta();
      store.startMetaStatus();
      await store.ensureStream(
        store.leases.stream,
        store.leases.probeSubject,
        store.leases.config(replicas, nanos),
        deadline,
      );
      store.leases.start();
      await store.leases.sync();
      await store.ensureStream(
        store.heartbeatStream,
        `${store.heartbeatSubjects}.probe`,
        store.heartbeatConfig(),
        deadline,
      );
    } catch (error) {
      await store.close();
      throw error;
    }
    void store.sweepOrphans().catch((error: unknown) => store.log(`NATS store: orphan sweep: ${error}`));
    return store;
  }

  // ---- names -------------------------------------------------------------------------------

  private metaSubject(kind: MetaKind, name: string): string {
    return `${this.prefix}.meta.${kind}.${encodeName(name)}`;
  }

  private shardStream(streamKey: number, shard: number): string {
    return `${this.prefix}_r_${streamKey}_${shard}`;
  }

  private shardSubject(streamKey: number, shard: number): string {
    return `${this.prefix}.r.${streamKey}.${shard}`;
  }

  private nextMsgId(): string {
    return `${this.id}.${(this.counter++).toString(36)}`;
  }

  // ---- metadata ----------------------------------------------------------------------------

  /**
   * Make sure a JetStream stream exists and is ready. nats-server 2.9 registers a stream before
   * its storage is set up, and a STREAM.MSG.GET or STREAM.INFO in that window crashes the server
   * (nil store); a concurrent STREAM.CREATE of the same name answers success inside that window.
   * So a stream is never asked anything before a probe has been answered by the stream itself: a
   * publish that expects an impossible last sequence, which a ready stream refuses (storing
   * nothing) and which nobody answers before the stream subscribes, after its storage is set up.
   */
  private async ensureStream(
    name: string,
    probeSubject: string,
    config: object,
    deadline: number,
  ): Promise<void> {
    let created = false;
    for (let attempt = 0; ; attempt++) {
      try {
        if (await this.probe(probeSubject)) return;
      } catch (error) {
        if (!isTransient(error)) throw error;
      }
      if (!created || attempt % 20 === 19) {
        try {
          await this.requester.api(`$JS.API.STREAM.CREATE.${name}`, config);
          created = true;
        } catch (error) {
          if (error instanceof ApiError && error.errCode === jsErr.streamNameInUse) created = true;
          else if (error instanceof ApiError && error.errCode === jsErr.clusterNoPeers) {
            // A cluster that is still forming (its peers not all known yet): try again.
            if (Date.now() > deadline) throw error;
          } else if (!isTransient(error) || Date.now() > deadline) throw error;
        }
      }
      if (Date.now() > deadline) throw new Error(`JetStream stream ${name} not ready in time`);
      await sleep(backoffMs(attempt, natsLimits.adminRetryBaseMs, natsLimits.adminRetryMaxMs));
    }
  }

  /** True when a ready stream answers on `subject`, false when nobody does (see ensureStream). */
  private async probe(subject: string): Promise<boolean> {
    const headers = newHeaders();
    headers.set(header.expectedSeq, String(Number.MAX_SAFE_INTEGER));
    try {
      await this.requester.publish(subject, Buffer.alloc(0), headers);
    } catch (error) {
      if (error instanceof ApiError && error.errCode === jsErr.wrongLastSequence) return true;
      if (error instanceof NoRespondersError) return false;
      throw error;
    }
    throw new Error(`a probe on ${subject} was stored`);
  }

  private ensureMetaStream(deadline: number): Promise<void> {
    return this.ensureStream(
      this.metaStream,
      `${this.prefix}.meta.probe`,
      {
        name: this.metaStream,
        subjects: [`${this.prefix}.meta.>`],
        retention: 'limits',
        storage: 'file',
        num_replicas: this.replicas,
        // Each subject (a stream document, a setting, a secret) keeps its last entries: a frontend
        // starts from the latest of each (the log is its own snapshot), then follows every entry.
        max_msgs_per_subject: natsLimits.metaHistoryPerName,
        discard: 'old',
        duplicate_window: nanos(natsLimits.duplicateWindowMs),
        deny_delete: true,
        deny_purge: true,
      },
      deadline,
    );
  }

  /** JetStream placement of a cell's record streams (`placement=cell`): its tagged servers. */
  private placementOf(cell: string): object {
    return this.cellPlacement ? { placement: { tags: [`cell:${cell}`] } } : {};
  }

  /**
   * With cell placement, fail at start, with a clear message, when the cluster cannot place this
   * cell's record streams (fewer servers tagged `cell:NAME` than replicas): a throw-away stream is
   * created with the cell's placement, probed ready (see ensureStream) and deleted.
   */
  private async checkCellPlacement(cell: string, deadline: number): Promise<void> {
    const name = `${this.prefix}_cellcheck_${this.id}`;
    const subject = `${this.prefix}.cellcheck.${this.id}`;
    const config = { name, subjects: [subject], storage: 'memory', num_replicas: this.replicas };
    try {
      await this.ensureStream(name, subject, { ...config, ...this.placementOf(cell) }, deadline);
    } catch (error) {
      throw new Error(
        `the NATS cluster cannot place cell ${cell}'s record streams (${this.replicas} replicas on servers ` +
          `with server_tags: ["cell:${cell}"]): ${error instanceof Error ? error.message : error}`,
      );
    }
    await this.requester.api(`$JS.API.STREAM.DELETE.${name}`);
  }

  private startMetaConsumer(): void {
    followLog({
      js: this.js,
      stream: this.metaStream,
      appliedSeq: () => this.viewSeq,
      apply: (seq, subject, data) => this.applyMeta(seq, subject, data),
      closing: () => this.closing,
      onMessages: (messages) => {
        this.metaMessages = messages;
      },
      retryWaitMs: natsLimits.reconnectWaitMs,
      log: this.log,
      what: 'metadata consumer',
    });
  }

  /** Apply one log entry to the view (in log order; older or repeated entries are ignored). */
  private applyMeta(seq: number, subject: string, data: Uint8Array): void {
    if (seq <= this.viewSeq) return;
    this.viewSeq = seq;
    const tokens = subject.split('.');
    const kind = tokens[2] as MetaKind;
    const name = decodeName(tokens[3] ?? '');
    let change: MetaChange | undefined;
    try {
      const body = JSON.parse(Buffer.from(data).toString('utf8')) as Record<string, unknown>;
      if (kind === 's') {
        const previous = this.streams.get(name);
        if (previous && !('deleted' in previous)) this.liveKeys.delete(previous.key);
        if (body.t === 'put') {
          const doc = { ...(body.doc as Omit<StreamDoc, 'version'>), version: seq } as StreamDoc;
          this.streams.set(name, doc);
          this.liveKeys.set(doc.key, name);
          change = { kind: 'put', doc };
        } else {
          const key = body.key as number;
          this.streams.set(name, { deleted: true, key, version: seq });
          this.dropShardLogs(key);
          change = { kind: 'delete', name, key };
        }
      } else if (kind === 'c') {
        this.settings.set(name, { value: body.v, version: seq });
      } else if (kind === 'k') {
        if (!this.secrets.has(name)) this.secrets.set(name, Buffer.from(body.b as string, 'base64'));
      }
    } catch (error) {
      this.log(`NATS store: metadata entry ${seq} unreadable: ${error}`);
    }
    if (change) {
      for (const watcher of this.watchers) {
        try {
          watcher(change);
        } catch (error) {
          this.log(`NATS store: watcher failed: ${error}`);
        }
      }
    }
    this.progress.advance(seq);
  }

  /** Resolve once the view has applied the log up to `seq`. */
  private reach(seq: number): Promise<void> {
    return this.progress.reach(seq, () => this.viewSeq);
  }

  /** Bring the view up to the log's current end. */
  private async syncMeta(): Promise<void> {
    const info = await this.requester.api<StreamInfoReply>(`$JS.API.STREAM.INFO.${this.metaStream}`);
    await this.reach(info.state.last_seq);
  }

  /** Metadata writes of this store one at a time (they would only conflict with each other). */
  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.metaTail.then(task, task);
    this.metaTail = run.catch(() => {});
    return run;
  }

  /**
   * Compare-and-set on the metadata log: `check` tells whether the view (the log up to its last
   * applied entry) allows the write; the entry is published only if the log has not moved past
   * that entry (Nats-Expected-Last-Sequence), so the check and the write are one atomic step.
   * Expected-last-subject-sequence would allow concurrent writers of different names, but on
   * nats-server 2.9 it loses updates on replicated streams. Resolves to the entry's sequence (the
   * new version), or null when the check fails on the current log.
   */
  private metaWrite(
    kind: MetaKind,
    name: string,
    body: () => unknown,
    check: () => boolean,
  ): Promise<number | null> {
    return this.serialize(async () => {
      const subject = this.metaSubject(kind, name);
      let data = Buffer.alloc(0);
      const msgId = this.nextMsgId();
      const deadline = Date.now() + natsLimits.writeDeadlineMs;
      let synced = false;
      let expected: number | undefined;
      for (let attempt = 0; ; attempt++) {
        if (Date.now() > deadline) throw new Error('metadata write timed out');
        if (expected === undefined) {
          if (!check()) {
            if (synced) return null;
            await this.syncMeta();
            synced = true;
            if (!check()) return null;
          }
          expected = this.viewSeq;
          data = Buffer.from(JSON.stringify(body()));
        }
        const headers = newHeaders();
        headers.set(header.msgId, msgId);
        headers.set(header.expectedSeq, String(expected));
        try {
          const ack = await this.requester.publish(subject, data, headers);
          if (this.viewSeq === ack.seq - 1) this.applyMeta(ack.seq, subject, data);
          else await this.reach(ack.seq);
          return ack.seq;
        } catch (error) {
          if (error instanceof ApiError && error.errCode === jsErr.wrongLastSequence) {
            // Someone else wrote first: look again at the log as it is now.
            await this.syncMeta();
            synced = true;
            expected = undefined;
            continue;
          }
          if (!isTransient(error)) throw error;
          // Lost answer or no leader: resend the same message (same id, same expectation).
          await sleep(backoffMs(attempt, natsLimits.adminRetryBaseMs, natsLimits.adminRetryMaxMs));
        }
      }
    });
  }

  async loadStreams(): Promise<StreamDoc[]> {
    await this.syncMeta();
    const docs: StreamDoc[] = [];
    for (const entry of this.streams.values()) if (!('deleted' in entry)) docs.push(entry);
    return docs;
  }

  watch(onChange: (change: MetaChange) => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }

  private liveDoc(name: string): StreamDoc | undefined {
    const entry = this.streams.get(name);
    return entry && !('deleted' in entry) ? entry : undefined;
  }

  async putStream(doc: StreamDoc, expectedVersion: number): Promise<StreamDoc | null> {
    const { version: _omit, ...body } = doc;
    // The record streams of new shards exist (and are ready) before any frontend can learn of
    // them from the log, so no frontend ever creates one or reads one being created.
    const previous = this.liveDoc(doc.name);
    const known = new Set(previous?.key === doc.key ? previous.shards.map((s) => s.index) : []);
    const fresh = doc.shards.filter((s) => !known.has(s.index)).map((s) => s.index);
    await forEachLimited(fresh, natsLimits.adminConcurrency, (shard) =>
      this.ensureShardStream(doc.key, shard, cellOf(doc)),
    );
    const seq = await this.metaWrite(
      's',
      doc.name,
      () => ({ t: 'put', doc: body }),
      () => {
        const current = this.liveDoc(doc.name);
        return expectedVersion === 0 ? current === undefined : current?.version === expectedVersion;
      },
    );
    if (seq === null) {
      // A create that lost leaves streams nobody will use.
      if (expectedVersion === 0 && !this.liveKeys.has(doc.key)) void this.dropRecordStreams(doc.key, fresh);
      return null;
    }
    return { ...doc, version: seq };
  }

  private async dropRecordStreams(streamKey: number, shards: number[]): Promise<void> {
    await forEachLimited(shards, natsLimits.adminConcurrency, async (shard) => {
      try {
        await this.requester.api(`$JS.API.STREAM.DELETE.${this.shardStream(streamKey, shard)}`);
      } catch (error) {
        if (!(error instanceof ApiError && error.errCode === jsErr.streamNotFound)) throw error;
      }
    }).catch((error: unknown) => this.log(`NATS store: removing record streams of ${streamKey}: ${error}`));
  }

  async deleteStream(name: string, expectedVersion: number): Promise<boolean> {
    let doc: StreamDoc | undefined;
    const seq = await this.metaWrite(
      's',
      name,
      () => ({ t: 'del', key: doc?.key }),
      () => {
        doc = this.liveDoc(name);
        return doc?.version === expectedVersion;
      },
    );
    if (seq === null || !doc) return false;
    // The records go with their streams (a frontend stopped here leaves them to the orphan sweep).
    this.dropShardLogs(doc.key);
    await this.dropRecordStreams(
      doc.key,
      doc.shards.map((s) => s.index),
    );
    return true;
  }

  async getStream(name: string): Promise<StreamDoc | undefined> {
    const msg = await getMessage(this.requester, this.metaStream, {
      last_by_subj: this.metaSubject('s', name),
    });
    if (!msg) return undefined;
    const body = JSON.parse(msg.data.toString('utf8')) as { t: string; doc?: StreamDoc };
    return body.t === 'put' && body.doc ? { ...body.doc, version: msg.seq } : undefined;
  }

  async getSetting(name: string): Promise<Setting | undefined> {
    const msg = await getMessage(this.requester, this.metaStream, {
      last_by_subj: this.metaSubject('c', name),
    });
    if (!msg) return undefined;
    return { value: (JSON.parse(msg.data.toString('utf8')) as { v: unknown }).v, version: msg.seq };
  }

  async putSetting(name: string, value: unknown, expectedVersion: number): Promise<Setting | null> {
    const seq = await this.metaWrite(
      'c',
      name,
      () => ({ v: value }),
      () => {
        const current = this.settings.get(name);
        return expectedVersion === 0 ? current === undefined : current?.version === expectedVersion;
      },
    );
    return seq === null ? null : { value, version: seq };
  }

  async secret(name: string, sizeBytes: number): Promise<Buffer> {
    const known = this.secrets.get(name);
    if (known) return known;
    await this.metaWrite(
      'k',
      name,
      () => ({ b: randomBytes(sizeBytes).toString('base64') }),
      () => !this.secrets.has(name),
    );
    const stored = this.secrets.get(name);
    if (!stored) throw new Error(`secret ${name} missing after it was written`);
    return stored;
  }

  // ---- record streams ----------------------------------------------------------------------

  private shardLog(streamKey: number, shard: number): ShardLog {
    const id = `${streamKey}:${shard}`;
    let log = this.shardLogs.get(id);
    if (!log) {
      log = new ShardLog(
        this,
        streamKey,
        shard,
        this.shardStream(streamKey, shard),
        this.shardSubject(streamKey, shard),
      );
      this.shardLogs.set(id, log);
    }
    return log;
  }

  private dropShardLogs(streamKey: number): void {
    for (const [id, log] of this.shardLogs) {
      if (log.streamKey === streamKey) {
        log.drop();
        this.shardLogs.delete(id);
      }
    }
  }

  /** Create a shard's record stream unless it exists, and wait until it is ready. */
  private ensureShardStream(streamKey: number, shard: number, cell: string): Promise<void> {
    const name = this.shardStream(streamKey, shard);
    let pending = this.creating.get(name);
    if (!pending) {
      const subject = this.shardSubject(streamKey, shard);
      pending = this.ensureStream(
        name,
        subject,
        {
          name,
          subjects: [subject],
          retention: 'limits',
          storage: 'file',
          num_replicas: this.replicas,
          max_age: nanos(natsLimits.recordMaxAgeMs),
          duplicate_window: nanos(natsLimits.duplicateWindowMs),
          discard: 'old',
          ...this.placementOf(cell),
        },
        Date.now() + natsLimits.writeDeadlineMs,
      ).finally(() => this.creating.delete(name));
      this.creating.set(name, pending);
    }
    return pending;
  }

  /** The last message of a shard stream; undefined when the stream does not exist. */
  private async readTip(stream: string, subject: string): Promise<LogTip | undefined> {
    for (let attempt = 1; ; attempt++) {
      let last: StoredMsg | undefined;
      try {
        last = await getMessage(this.requester, stream, { last_by_subj: subject });
      } catch (error) {
        if (error instanceof ApiError && error.errCode === jsErr.streamNotFound) return undefined;
        throw error;
      }
      if (last) {
        const tip: LogTip = {
          lastSeq: last.seq,
          lastArrival: arrivalOf(last.headers, last.timeMs),
          msgId: last.headers?.get(header.msgId),
        };
        if (last.headers?.has(header.seal)) tip.sealSeq = last.seq;
        return tip;
      }
      // Never written, or every message expired (max_age): the sequence goes on from the stream's
      // state (JetStream keeps last_seq when a stream empties). Only if it is still empty: a
      // message stored since the get (another frontend's record or seal marker) must be read,
      // or a writer would chain on a seal it does not know of.
      const info = await this.requester.api<StreamInfoReply>(`$JS.API.STREAM.INFO.${stream}`);
      if (info.state.messages === 0)
        return {
          lastSeq: info.state.last_seq,
          lastArrival: Math.max(0, Date.parse(info.state.last_ts) || 0),
        };
      if (attempt >= natsLimits.tipReadAttempts)
        throw new Error(`the last message of ${stream} could not be read (it kept changing)`);
    }
  }

  /** For a shard writer: the stream's last message. A missing record stream is an error: record
   * streams are created before their document is stored, and dropped when it is deleted. */
  async readWriterTip(log: ShardLog): Promise<LogTip> {
    const tip = await this.readTip(log.stream, log.subject);
    if (!tip) throw new Error(`no record stream ${log.stream} (stream key ${log.streamKey} deleted?)`);
    return tip;
  }

  private takeCommitted(streamKey: number, entry: AppendEntry): Appended | undefined {
    const list = this.committed.get(entry.data);
    if (!list) return undefined;
    const index = list.findIndex(
      (c) => c.streamKey === streamKey && c.shard === entry.shard && c.partitionKey === entry.partitionKey,
    );
    if (index < 0) return undefined;
    const [found] = list.splice(index, 1);
    if (list.length === 0) this.committed.delete(entry.data);
    return found?.appended;
  }

  /**
   * Entries go to their shards' writers, pipelined. All or nothing holds when this frontend
   * already knows a shard is sealed (the call is refused before anything is sent); a seal met
   * on the way can leave entries of other shards stored (JetStream has no transaction across
   * streams in 2.9): the call is then refused with ShardSealedPartialError, and the engine's retry
   * of the same call gets the stored entries' results back instead of storing them again.
   */
  async append(streamKey: number, entries: AppendEntry[]): Promise<Appended[]> {
    const results: Array<Appended | undefined> = new Array(entries.length);
    const todo: number[] = [];
    entries.forEach((entry, i) => {
      const earlier = this.takeCommitted(streamKey, entry);
      if (earlier) results[i] = earlier;
      else todo.push(i);
    });
    if (todo.length === 0) return results as Appended[];
    const byShard = new Map<number, number[]>();
    for (const i of todo) {
      const shard = (entries[i] as AppendEntry).shard;
      const list = byShard.get(shard);
      if (list) list.push(i);
      else byShard.set(shard, [i]);
    }
    for (const shard of byShard.keys()) {
      if (this.shardLog(streamKey, shard).knownSealed) {
        this.remember(streamKey, entries, results);
        await this.beforeSealedError();
        throw new ShardSealedPartialError(shard, results);
      }
    }
    const call = new AppendCall(results, todo.length);
    const deadline = Date.now() + natsLimits.writeDeadlineMs;
    for (const [shard, indexes] of byShard) {
      this.shardLog(streamKey, shard).submit(
        indexes.map((index): Item => {
          const entry = entries[index] as AppendEntry;
          return {
            kind: 'record',
            owner: call,
            index,
            msgId: this.nextMsgId(),
            data: entry.data,
            partitionKey: entry.partitionKey,
            keyId: entry.keyId,
            deadline,
            order: this.counter++,
            sentArrival: 0,
          };
        }),
      );
    }
    await call.done;
    this.appendWaits.note(Date.now() - (deadline - natsLimits.writeDeadlineMs));
    if (call.sealed) {
      this.remember(streamKey, entries, results);
      await this.beforeSealedError();
      throw new ShardSealedPartialError(call.sealed.shard, results);
    }
    if (call.failure !== undefined) throw call.failure;
    return results as Appended[];
  }

  /**
   * A shard is sealed only after the document that closed it is in the metadata log: bring the
   * view (and through `watch` the engine's map) up to the log's end before refusing, so that the
   * engine's retry routes on the document with the children, even on a frontend that had not yet
   * received it.
   */
  private async beforeSealedError(): Promise<void> {
    try {
      await this.syncMeta();
    } catch {
      // the engine's retry will tell
    }
  }

  private remember(streamKey: number, entries: AppendEntry[], results: Array<Appended | undefined>): void {
    entries.forEach((entry, i) => {
      const appended = results[i];
      if (!appended) return;
      const list = this.committed.get(entry.data) ?? [];
      list.push({ streamKey, shard: entry.shard, partitionKey: entry.partitionKey, appended });
      this.committed.set(entry.data, list);
    });
  }

  sealShard(streamKey: number, shard: number): Promise<ShardTip> {
    return new Promise((resolve, reject) => {
      this.shardLog(streamKey, shard).submit([
        {
          kind: 'seal',
          owner: {
            settled: (_item, error, seq, arrivalMs) => {
              if (error !== undefined) reject(error);
              else
                resolve({
                  nextPosition: (seq as number) - 1,
                  lastArrivalMs: arrivalMs as number,
                  sealed: true,
                });
            },
          },
          index: 0,
          msgId: this.nextMsgId(),
          data: Buffer.alloc(0),
          partitionKey: '',
          deadline: Date.now() + natsLimits.writeDeadlineMs,
          order: this.counter++,
          sentArrival: 0,
        },
      ]);
    });
  }

  /** The longest wait of an append finished within the last second or two, or of one still
   * waiting, whichever is longer: appends of concurrent callers finish together, so the queue is
   * often empty at the instant a reading is taken even while every append waits long. Admission
   * reads this every 250 ms (guard.pressureCheckMs): one pass over the shards this frontend has
   * written to (bounded by the shard count). */
  appendWaitMs(): number {
    const now = Date.now();
    let oldest = now;
    for (const log of this.shardLogs.values()) {
      const since = log.oldestWaitingSince();
      if (since !== undefined && since < oldest) oldest = since;
    }
    return Math.max(now - oldest, this.appendWaits.max(now));
  }

  /** A core NATS subscription to the shard's subject for one message (appends and seal markers
   * are published there by every frontend): a waiting subscriber wakes at once. It lasts only
   * while a subscriber waits, so it costs nothing between waits and at most one message each. */
  watchShard(streamKey: number, shard: number, onAppend: () => void): () => void {
    if (this.closing || this.nc.isClosed()) return () => {};
    const subscription = this.nc.subscribe(this.shardSubject(streamKey, shard), {
      max: 1,
      callback: () => onAppend(),
    });
    return () => subscription.unsubscribe();
  }

  async tip(streamKey: number, shard: number): Promise<ShardTip> {
    return shardTipOf(
      await this.readTip(this.shardStream(streamKey, shard), this.shardSubject(streamKey, shard)),
    );
  }

  async read(request: ReadRequest): Promise<ReadResult> {
    const { streamKey, shard, fromPosition, minArrivalMs, maxCount, maxBytes } = request;
    const stream = this.shardStream(streamKey, shard);
    const subject = this.shardSubject(streamKey, shard);
    const tip = await this.readTip(stream, subject);
    if (!tip) return { records: [], tip: shardTipOf(undefined) };
    const end = lastRecordSeq(tip);
    let records = await this.readRange(stream, subject, fromPosition + 1, end, maxCount, maxBytes);
    const first = records[0];
    if (first && first.arrivalMs < minArrivalMs) {
      // The reader is behind retention: start at the first record it may see.
      const start = (await this.positionAt(streamKey, shard, minArrivalMs)) + 1;
      records =
        start > fromPosition + 1
          ? await this.readRange(stream, subject, start, end, maxCount, maxBytes)
          : records;
      records = records.filter((r) => r.arrivalMs >= minArrivalMs);
    }
    return { records, tip: shardTipOf(tip) };
  }

  private async readRange(
    stream: string,
    subject: string,
    start: number,
    end: number,
    maxCount: number,
    maxBytes: number,
  ): Promise<StoredRecord[]> {
    if (start > end || maxCount <= 0) return [];
    const count = Math.min(maxCount, end - start + 1);
    if (count <= natsLimits.smallReadRecords)
      return this.getRange(stream, subject, start, end, count, maxBytes);
    if (Date.now() < this.consumerReadsOffUntil) {
      return this.getRange(
        stream,
        subject,
        start,
        end,
        Math.min(count, natsLimits.fallbackReadRecords),
        maxBytes,
      );
    }
    try {
      return await this.pullRange(stream, start, end, count, maxBytes);
    } catch (error) {
      // A cluster that lost a node may not place read consumers (2.9 leaves the create
      // unanswered): read through the stream leader for a while instead.
      if (!isTransient(error)) throw error;
      this.log(`NATS store: read consumers unavailable (${error}); reading by message for a while`);
      this.consumerReadsOffUntil = Date.now() + natsLimits.consumerReadsOffMs;
      return this.getRange(
        stream,
        subject,
        start,
        end,
        Math.min(count, natsLimits.fallbackReadRecords),
        maxBytes,
      );
    }
  }

  /** A few records: the first at or after `start` (earlier ones may be trimmed), then the
   * following sequences, pipelined. */
  private async getRange(
    stream: string,
    subject: string,
    start: number,
    end: number,
    count: number,
    maxBytes: number,
  ): Promise<StoredRecord[]> {
    const first = await getMessage(this.requester, stream, { seq: start, next_by_subj: subject });
    if (!first || first.seq > end) return [];
    const head = recordOf(first.seq, first.headers, first.data, first.timeMs);
    if (!head) return [];
    const records = [head];
    let bytes = recordBytes(head);
    // Ask only for what the byte bound can take, judging by the first record's size.
    const more = Math.min(count - 1, end - first.seq, Math.floor(maxBytes / Math.max(1, bytes)));
    const rest = await Promise.all(
      Array.from({ length: Math.max(0, more) }, (_, k) =>
        getMessage(this.requester, stream, { seq: first.seq + 1 + k }),
      ),
    );
    for (const msg of rest) {
      const record = msg && recordOf(msg.seq, msg.headers, msg.data, msg.timeMs);
      if (!record) break;
      const size = recordBytes(record);
      if (bytes + size > maxBytes) break;
      bytes += size;
      records.push(record);
    }
    return records;
  }

  /** Many records: a short-lived pull consumer from `start`, one batch bounded by count and
   * bytes, answered without waiting for more (no_wait). */
  private async pullRange(
    stream: string,
    start: number,
    end: number,
    count: number,
    maxBytes: number,
  ): Promise<StoredRecord[]> {
    const name = `read_${nuid.next()}`;
    await this.requester.api(`$JS.API.CONSUMER.CREATE.${stream}.${name}`, {
      stream_name: stream,
      config: {
        name,
        deliver_policy: 'by_start_sequence',
        opt_start_seq: start,
        ack_policy: 'none',
        replay_policy: 'instant',
        mem_storage: true,
        num_replicas: 1,
        inactive_threshold: nanos(natsLimits.readConsumerIdleMs),
      },
    });
    const records: StoredRecord[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        let bytes = 0;
        const inbox = `_INBOX.${nuid.next()}`;
        const finish = (error?: Error) => {
          clearTimeout(timer);
          sub.unsubscribe();
          if (error) reject(error);
          else resolve();
        };
        const sub = this.nc.subscribe(inbox, {
          callback: (_err, msg) => {
            if (!msg.reply) {
              // A status (404 no messages, 408 batch done, 409 byte bound reached): the batch ended.
              finish();
              return;
            }
            const tokens = msg.reply.split('.');
            // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>, or with
            // domain and account hash: $JS.ACK.<domain>.<hash>.<stream>.<consumer>...
            const base = tokens.length >= 12 ? 4 : 2;
            const seq = Number(tokens[base + 3]);
            const timeMs = Math.floor(Number(tokens[base + 5]) / 1e6);
            const record = seq <= end ? recordOf(seq, msg.headers, msg.data, timeMs) : undefined;
            if (!record) {
              finish();
              return;
            }
            const size = recordBytes(record);
            if (records.length > 0 && bytes + size > maxBytes) {
              finish();
              return;
            }
            bytes += size;
            records.push(record);
            if (records.length >= count || seq >= end) finish();
          },
        });
        const timer = setTimeout(
          () => finish(new RequestTimeoutError(`read of ${stream}`)),
          natsLimits.requestTimeoutMs,
        );
        this.nc.publish(
          `$JS.API.CONSUMER.MSG.NEXT.${stream}.${name}`,
          JSON.stringify({
            batch: count,
            max_bytes: maxBytes + count * natsLimits.readOverheadBytesPerRecord,
            no_wait: true,
          }),
          { reply: inbox },
        );
      });
    } finally {
      this.requester.api(`$JS.API.CONSUMER.DELETE.${stream}.${name}`).catch(() => {});
    }
    return records;
  }

  async positionAt(streamKey: number, shard: number, timestampMs: number): Promise<number> {
    const stream = this.shardStream(streamKey, shard);
    const subject = this.shardSubject(streamKey, shard);
    const tip = await this.readTip(stream, subject);
    const next = shardTipOf(tip).nextPosition;
    if (!tip || tip.lastArrival < timestampMs) return next;
    const end = lastRecordSeq(tip);
    const first = await getMessage(this.requester, stream, { seq: 1, next_by_subj: subject });
    if (!first || first.seq > end) return next;
    if (arrivalOf(first.headers, first.timeMs) >= timestampMs) return first.seq - 1;
    // Arrival times never decrease with the sequence: binary search, arrival(low) < t <= arrival(high).
    let low = first.seq;
    let high = end;
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      const msg = await getMessage(this.requester, stream, { seq: mid, next_by_subj: subject });
      if (!msg || msg.seq >= high) break; // trimmed meanwhile: nothing between low and high
      if (arrivalOf(msg.headers, msg.timeMs) >= timestampMs) high = msg.seq;
      else low = msg.seq;
    }
    return high - 1;
  }

  async trim(streamKey: number, shard: number, beforeMs: number, maxRows: number): Promise<number> {
    const stream = this.shardStream(streamKey, shard);
    const subject = this.shardSubject(streamKey, shard);
    let info: StreamInfoReply;
    try {
      info = await this.requester.api<StreamInfoReply>(`$JS.API.STREAM.INFO.${stream}`);
    } catch (error) {
      if (error instanceof ApiError && error.errCode === jsErr.streamNotFound) return 0;
      throw error;
    }
    if (info.state.messages <= 1) return 0;
    if (Date.parse(info.state.first_ts) - natsLimits.clockSkewAllowanceMs > beforeMs) return 0;
    const tip = await this.readTip(stream, subject);
    const first = await getMessage(this.requester, stream, {
      seq: info.state.first_seq,
      next_by_subj: subject,
    });
    if (!tip || !first || arrivalOf(first.headers, first.timeMs) >= beforeMs) return 0;
    // The newest record is always kept, as the embedded store does.
    const cut = Math.min(
      (await this.positionAt(streamKey, shard, beforeMs)) + 1,
      lastRecordSeq(tip),
      first.seq + maxRows,
    );
    if (cut <= first.seq) return 0;
    const reply = await this.requester.api<{ purged: number }>(`$JS.API.STREAM.PURGE.${stream}`, {
      seq: cut,
    });
    return reply.purged;
  }

  /**
   * Remove record streams whose Kinesis stream is gone (a frontend stopped in the middle of a
   * deletion). Only streams older than `orphanGraceMs` are considered.
   */
  async sweepOrphans(): Promise<number> {
    const pattern = new RegExp(`^${this.prefix}_r_(\\d+)_(\\d+)$`);
    const candidates: string[] = [];
    for (let offset = 0; ; ) {
      const page = await this.requester.api<{ total: number; limit: number; streams: string[] | null }>(
        '$JS.API.STREAM.NAMES',
        { offset, subject: `${this.prefix}.r.>` },
      );
      const names = page.streams ?? [];
      for (const name of names) {
        const match = pattern.exec(name);
        if (match && !this.liveKeys.has(Number(match[1]))) candidates.push(name);
      }
      offset += names.length;
      if (names.length === 0 || offset >= page.total) break;
    }
    let removed = 0;
    await forEachLimited(candidates, natsLimits.adminConcurrency, async (name) => {
      const match = pattern.exec(name);
      // A stream being created right now (its document not yet in the log) is not ready: skip it
      // (asking it anything could crash a 2.9 server, see ensureStream).
      if (!match || !(await this.probe(`${this.prefix}.r.${match[1]}.${match[2]}`))) return;
      const info = await this.requester.api<StreamInfoReply>(`$JS.API.STREAM.INFO.${name}`);
      if (Date.now() - Date.parse(info.created) < natsLimits.orphanGraceMs) return;
      if (this.liveKeys.has(Number(match[1]))) return;
      await this.requester.api(`$JS.API.STREAM.DELETE.${name}`);
      removed++;
    });
    return removed;
  }

  // ---- leases and heartbeats (docs/nats-store.md, "The fleet") ------------------------------

  updateLease(
    name: string,
    decide: (current: Lease | undefined) => LeaseBody | undefined,
  ): Promise<{ lease: Lease | undefined; written: boolean }> {
    return this.leases.update(name, decide);
  }

  peekLease(name: string): Lease | undefined {
    return this.leases.peek(name);
  }

  watchLeases(onChange: (lease: Lease) => void): () => void {
    return this.leases.watch(onChange);
  }

  /** Heartbeats are counted per cell (a cell's frontends share its shards' limits): one stream
   * per cell. */
  private get heartbeatStream(): string {
    return `${this.prefix}_hb_${this.options.cell ?? defaultCell}`;
  }

  private get heartbeatSubjects(): string {
    return `${this.prefix}.hb.${this.options.cell ?? defaultCell}`;
  }

  /** One subject per frontend keeping its last heartbeat; `max_age` drops those that stopped.
   * In memory: a heartbeat matters only for its TTL. */
  private heartbeatConfig(): object {
    return {
      name: this.heartbeatStream,
      subjects: [`${this.heartbeatSubjects}.*`],
      retention: 'limits',
      storage: 'memory',
      num_replicas: this.replicas,
      max_msgs_per_subject: 1,
      max_age: nanos(fleet.heartbeatTtlMs),
      discard: 'old',
      duplicate_window: nanos(fleet.heartbeatMs),
    };
  }

  /** Publish this frontend's heartbeat, then count the subjects with a live one (STREAM.INFO's
   * `num_subjects`): two requests, whatever the fleet's size; no frontend hears from another. */
  async heartbeat(id: string, leaving = false): Promise<number> {
    const subject = `${this.heartbeatSubjects}.${encodeName(id)}`;
    if (leaving)
      await this.requester.api(`$JS.API.STREAM.PURGE.${this.heartbeatStream}`, { filter: subject });
    else await this.requester.publish(subject, Buffer.alloc(0), newHeaders());
    const info = await this.requester.api<{ state: { num_subjects?: number } }>(
      `$JS.API.STREAM.INFO.${this.heartbeatStream}`,
    );
    return leaving ? (info.state.num_subjects ?? 0) : Math.max(1, info.state.num_subjects ?? 1);
  }

  /** A shard stream's last sequence (records and seal markers ever appended) and stored bytes. */
  async writeCounters(streamKey: number, shard: number): Promise<{ records: number; bytes: number }> {
    const info = await this.requester.api<{ state: { last_seq: number; bytes: number } }>(
      `$JS.API.STREAM.INFO.${this.shardStream(streamKey, shard)}`,
    );
    return { records: info.state.last_seq, bytes: info.state.bytes };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.unreachableTimer);
    clearInterval(this.metaStatusTimer);
    this.leases.close();
    this.metaMessages?.stop();
    this.progress.release();
    this.requester.close();
    await this.nc.close();
  }
}
