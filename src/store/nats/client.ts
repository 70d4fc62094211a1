/**
 * Plumbing for the NATS JetStream store: pipelined requests over one reply subscription, the
 * JetStream JSON API, and message headers. Nothing here knows about Kinesis.
 */
import type { ConsumerMessages, JetStreamClient } from '@nats-io/jetstream';
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  MsgHdrsImpl,
  type NatsConnection,
  headers as natsHeaders,
  type Subscription,
} from '@nats-io/transport-node';

/** An error answer of the JetStream API (`err_code` is JetStream's own code). */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly errCode: number,
    description: string,
  ) {
    super(`${description} (JetStream ${code}/${errCode})`);
  }
}

/** Nobody listens on the subject: no stream captures it, or JetStream is not up. Nothing stored. */
export class NoRespondersError extends Error {
  constructor(subject: string) {
    super(`no responders on ${subject}`);
  }
}

/** No answer in time: the request may or may not have taken effect. */
export class RequestTimeoutError extends Error {
  constructor(subject: string) {
    super(`no answer on ${subject} in time`);
  }
}

/** JetStream error codes the store reacts to (server/errors.json of nats-server 2.9). */
export const jsErr = {
  /** No suitable peers for placement: also while a cluster is still forming. */
  clusterNoPeers: 10005,
  clusterNotAvailable: 10008,
  noMessageFound: 10037,
  streamNameInUse: 10058,
  streamNotFound: 10059,
  wrongLastMsgId: 10070,
  wrongLastSequence: 10071,
} as const;

interface Waiter {
  id: string;
  subject: string;
  deadline: number;
  settled: boolean;
  resolve: (msg: Msg) => void;
  reject: (error: Error) => void;
}

/**
 * Many requests in flight over one wildcard reply subscription. Every request gets the same
 * timeout, so waiters expire in the order they were made: one timer checks the oldest, instead of
 * one timer per request (which is what limits `js.publish()` to about 12k messages/s).
 */
export class Requester {
  private readonly prefix = createInbox();
  private readonly waiters = new Map<string, Waiter>();
  /** Waiters in deadline order; `head` is the oldest not yet looked at. */
  private order: Waiter[] = [];
  private head = 0;
  private counter = 0;
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  /** Consulted before every request: an error refuses it at once (the store is unreachable). */
  gate: () => Error | undefined = () => undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
    sweepMs: number,
  ) {
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (_err, msg) => this.onReply(msg) });
    this.timer = setInterval(() => this.expire(), sweepMs);
    this.timer.unref();
  }

  get inFlight(): number {
    return this.waiters.size;
  }

  /** Send `data` to `subject` and resolve to the reply (503 no-responders rejects). */
  request(subject: string, data: Uint8Array | string, headers?: MsgHdrs): Promise<Msg> {
    if (this.closed) return Promise.reject(new Error('NATS store is closed'));
    const refused = this.gate();
    if (refused) return Promise.reject(refused);
    return new Promise<Msg>((resolve, reject) => {
      const id = (this.counter++).toString(36);
      const waiter: Waiter = {
        id,
        subject,
        deadline: Date.now() + this.timeoutMs,
        settled: false,
        resolve,
        reject,
      };
      this.waiters.set(id, waiter);
      this.order.push(waiter);
      try {
        this.nc.publish(subject, data, { reply: `${this.prefix}.${id}`, headers });
      } catch (error) {
        this.waiters.delete(id);
        waiter.settled = true;
        reject(error as Error);
      }
    });
  }

  /** A JetStream API call: JSON in, JSON out, `error` answers thrown as ApiError. */
  async api<T>(subject: string, body?: unknown): Promise<T> {
    const msg = await this.request(subject, body === undefined ? '' : JSON.stringify(body));
    const reply = JSON.parse(msg.string()) as {
      error?: { code: number; err_code: number; description: string };
    };
    if (reply.error) throw new ApiError(reply.error.code, reply.error.err_code, reply.error.description);
    return reply as T;
  }

  /** Publish to a stream and resolve to its PubAck. */
  async publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
    const msg = await this.request(subject, data, headers);
    const reply = JSON.parse(msg.string()) as PubAck & {
      error?: { code: number; err_code: number; description: string };
    };
    if (reply.error) throw new ApiError(reply.error.code, reply.error.err_code, reply.error.description);
    return reply;
  }

  private onReply(msg: Msg): void {
    const id = msg.subject.slice(this.prefix.length + 1);
    const waiter = this.waiters.get(id);
    if (!waiter) return; // expired meanwhile
    this.waiters.delete(id);
    waiter.settled = true;
    if (msg.headers?.code === 503) waiter.reject(new NoRespondersError(waiter.subject));
    else waiter.resolve(msg);
  }

  private expire(): void {
    const now = Date.now();
    while (this.head < this.order.length) {
      const waiter = this.order[this.head] as Waiter;
      if (!waiter.settled && waiter.deadline > now) break;
      this.head++;
      if (!waiter.settled) {
        waiter.settled = true;
        this.waiters.delete(waiter.id);
        waiter.reject(new RequestTimeoutError(waiter.subject));
      }
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** Fail every request waiting for an answer (the connection they went out on is gone). */
  failAll(error: Error): void {
    for (const waiter of this.waiters.values()) {
      waiter.settled = true;
      waiter.reject(error);
    }
    this.waiters.clear();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.sub.unsubscribe();
    for (const waiter of this.waiters.values()) {
      waiter.settled = true;
      waiter.reject(new Error('NATS store is closed'));
    }
    this.waiters.clear();
    this.order = [];
    this.head = 0;
  }
}

export interface PubAck {
  stream: string;
  seq: number;
  duplicate?: boolean;
}

/** A message as STREAM.MSG.GET returns it. */
export interface StoredMsg {
  subject: string;
  seq: number;
  headers: MsgHdrs | undefined;
  data: Buffer;
  /** The server's timestamp (ms). */
  timeMs: number;
}

interface MsgGetReply {
  message: { subject: string; seq: number; hdrs?: string; data?: string; time: string };
}

export function parseMsgGet(reply: MsgGetReply): StoredMsg {
  const m = reply.message;
  return {
    subject: m.subject,
    seq: m.seq,
    headers: m.hdrs ? MsgHdrsImpl.decode(Buffer.from(m.hdrs, 'base64')) : undefined,
    data: m.data ? Buffer.from(m.data, 'base64') : Buffer.alloc(0),
    timeMs: Date.parse(m.time),
  };
}

/**
 * Get one message from a stream through its leader (STREAM.MSG.GET, consistent even on a
 * replicated stream): by sequence, the first at or after a sequence on a subject, or the last on
 * a subject. Resolves to undefined when there is no such message.
 */
export async function getMessage(
  requester: Requester,
  stream: string,
  query: { seq: number; next_by_subj?: string } | { last_by_subj: string },
): Promise<StoredMsg | undefined> {
  try {
    return parseMsgGet(await requester.api<MsgGetReply>(`$JS.API.STREAM.MSG.GET.${stream}`, query));
  } catch (error) {
    if (error instanceof ApiError && error.errCode === jsErr.noMessageFound) return undefined;
    throw error;
  }
}

export function newHeaders(): MsgHdrs {
  return natsHeaders();
}

/**
 * Headers encoded once, straight to bytes, for the hot path: the client only calls `encode()` on
 * a published message's headers, and building a MsgHdrs (a map, key checks) for every record is
 * a large share of the publishing cost. Values must not hold CR or LF, nor start or end with
 * blanks (the reader trims them).
 */
export function rawHeaders(pairs: Array<[string, string]>): MsgHdrs {
  let text = 'NATS/1.0\r\n';
  for (const [key, value] of pairs) {
    if (/[\r\n]/.test(value)) throw new Error(`header ${key} cannot hold CR or LF`);
    text += `${key}: ${value}\r\n`;
  }
  const bytes = Buffer.from(`${text}\r\n`, 'utf8');
  return { encode: () => bytes } as unknown as MsgHdrs;
}

/** Nanoseconds, as JetStream configuration wants durations. */
export function nanos(ms: number): number {
  return ms * 1_000_000;
}

/** Run `task` over `items` with at most `limit` at once. */
export async function forEachLimited<T>(
  items: T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        try {
          await task(item);
        } catch (error) {
          errors.push(error);
        }
      }
    }),
  );
  if (errors.length > 0) throw errors[0];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Random backoff in [0, min(cap, base * 2^attempt)] (full jitter). */
export function backoffMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
}

/**
 * Replay a log stream into a view and follow it: the first time the latest entry of each subject
 * (in log order), then every new entry; after an interruption, every entry after the last one
 * applied (`appliedSeq`). An ordered pull consumer; retried after `retryWaitMs` until `closing`.
 */
export function followLog(options: {
  js: JetStreamClient;
  stream: string;
  appliedSeq: () => number;
  apply: (seq: number, subject: string, data: Uint8Array) => void;
  closing: () => boolean;
  onMessages: (messages: ConsumerMessages) => void;
  retryWaitMs: number;
  log: (line: string) => void;
  what: string;
}): void {
  const run = async () => {
    while (!options.closing()) {
      try {
        const applied = options.appliedSeq();
        const consumer = await options.js.consumers.get(
          options.stream,
          applied === 0
            ? { deliver_policy: 'last_per_subject' }
            : { deliver_policy: 'by_start_sequence', opt_start_seq: applied + 1 },
        );
        const messages = await consumer.consume();
        options.onMessages(messages);
        for await (const m of messages) options.apply(m.seq, m.subject, m.data);
      } catch (error) {
        if (!options.closing()) options.log(`NATS store: ${options.what}: ${error}`);
      }
      if (!options.closing()) await sleep(options.retryWaitMs);
    }
  };
  void run();
}

/**
 * Waiters for a log view to reach a sequence: `reach(seq)` resolves once `advance` has reported
 * that sequence applied, or rejects after `timeoutMs`; `release` lets every waiter go (closing).
 */
export class LogProgress {
  private waiters: Array<{ seq: number; resolve: () => void }> = [];

  constructor(
    private readonly what: string,
    private readonly timeoutMs: number,
  ) {}

  advance(applied: number): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.seq <= applied);
    this.waiters = this.waiters.filter((w) => w.seq > applied);
    for (const waiter of ready) waiter.resolve();
  }

  reach(seq: number, applied: () => number): Promise<void> {
    if (applied() >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { seq, resolve: () => resolve() };
      this.waiters.push(waiter);
      setTimeout(() => {
        if (!this.waiters.includes(waiter)) return;
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.what} not replayed up to ${seq} in time (at ${applied()})`));
      }, this.timeoutMs).unref();
    });
  }

  release(): void {
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters = [];
  }
}
