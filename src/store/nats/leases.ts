import type { ConsumerMessages, JetStreamClient } from '@nats-io/jetstream';
import { fleet } from '../../limits.js';
import { pruneExpired } from '../leases.js';
import type { Lease, LeaseBody } from '../store.js';
import {
  ApiError,
  backoffMs,
  followLog,
  jsErr,
  LogProgress,
  NoRespondersError,
  newHeaders,
  type Requester,
  RequestTimeoutError,
  sleep,
} from './client.js';

/** Bounds the lease log borrows from the store (natsLimits). */
export interface LeaseLogTimes {
  writeDeadlineMs: number;
  requestTimeoutMs: number;
  reconnectWaitMs: number;
  adminRetryBaseMs: number;
  adminRetryMaxMs: number;
}

/**
 * Leases over NATS JetStream: one replicated stream (`<prefix>_lease`), a subject per lease
 * holding its latest entry (`max_msgs_per_subject: 1`, entries older than `leaseRetentionMs`
 * removed by `max_age`). Every write is a compare-and-set on the whole stream's last sequence
 * (`Nats-Expected-Last-Sequence`): (2.9) per-subject and KV compare-and-set lose updates on
 * replicated streams, and per-key TTL is ignored, so expiry is the time recorded in the entry.
 * An ordered consumer replays the stream into a view that answers `peek` and feeds `watch`, so a
 * holder learns of a takeover as soon as the entry is written. Kept apart from the metadata log
 * so that renewals never make stream document writes conflict, and old entries go away.
 */
export class LeaseLog {
  private viewSeq = 0;
  private readonly leases = new Map<string, Lease>();
  private readonly watchers = new Set<(lease: Lease) => void>();
  private readonly progress: LogProgress;
  private messages: ConsumerMessages | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private closing = false;

  constructor(
    private readonly requester: Requester,
    private readonly js: JetStreamClient,
    readonly stream: string,
    private readonly subjectPrefix: string,
    private readonly times: LeaseLogTimes,
    private readonly log: (line: string) => void,
    private readonly nextMsgId: () => string,
  ) {
    this.progress = new LogProgress('lease log', times.requestTimeoutMs * 2);
  }

  /** The stream's configuration (created by the store with its probe). */
  config(replicas: number, nanos: (ms: number) => number): object {
    return {
      name: this.stream,
      subjects: [`${this.subjectPrefix}.>`],
      retention: 'limits',
      storage: 'file',
      num_replicas: replicas,
      max_msgs_per_subject: 1,
      max_age: nanos(fleet.leaseRetentionMs),
      discard: 'old',
      duplicate_window: nanos(Math.min(fleet.leaseRetentionMs, 30_000)),
    };
  }

  get probeSubject(): string {
    return `${this.subjectPrefix}.probe`;
  }

  private subjectOf(name: string): string {
    return `${this.subjectPrefix}.${Buffer.from(name, 'utf8').toString('base64url')}`;
  }

  /** Follow the stream: the latest entry of each lease, then every new one. */
  start(): void {
    followLog({
      js: this.js,
      stream: this.stream,
      appliedSeq: () => this.viewSeq,
      apply: (seq, subject, data) => this.apply(seq, subject, data),
      closing: () => this.closing,
      onMessages: (messages) => {
        this.messages = messages;
      },
      retryWaitMs: this.times.reconnectWaitMs,
      log: this.log,
      what: 'lease consumer',
    });
  }

  private apply(seq: number, subject: string, data: Uint8Array): void {
    if (seq <= this.viewSeq) return;
    this.viewSeq = seq;
    const token = subject.slice(this.subjectPrefix.length + 1);
    if (token !== 'probe') {
      try {
        const body = JSON.parse(Buffer.from(data).toString('utf8')) as LeaseBody;
        const lease: Lease = {
          name: Buffer.from(token, 'base64url').toString('utf8'),
          holder: String(body.holder),
          acquiredMs: Number(body.acquiredMs),
          expiresMs: Number(body.expiresMs),
          version: seq,
        };
        this.leases.set(lease.name, lease);
        if (this.leases.size > fleet.maxLeaseEntries) pruneExpired(this.leases);
        for (const watcher of this.watchers) {
          try {
            watcher(lease);
          } catch (error) {
            this.log(`NATS store: lease watcher failed: ${error}`);
          }
        }
      } catch (error) {
        this.log(`NATS store: lease entry ${seq} unreadable: ${error}`);
      }
    }
    this.progress.advance(seq);
  }

  private reach(seq: number): Promise<void> {
    return this.progress.reach(seq, () => this.viewSeq);
  }

  /** Bring the view up to the stream's current end. */
  async sync(): Promise<void> {
    const info = await this.requester.api<{ state: { last_seq: number } }>(
      `$JS.API.STREAM.INFO.${this.stream}`,
    );
    await this.reach(info.state.last_seq);
  }

  peek(name: string): Lease | undefined {
    return this.leases.get(name);
  }

  watch(onChange: (lease: Lease) => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }

  /**
   * Compare-and-set: decide on the view, publish expecting the stream's last sequence to be the
   * view's; on a conflict, bring the view up to date and decide again. This store's lease writes
   * go one at a time (they would only conflict with each other).
   */
  update(
    name: string,
    decide: (current: Lease | undefined) => LeaseBody | undefined,
  ): Promise<{ lease: Lease | undefined; written: boolean }> {
    const task = async () => {
      const subject = this.subjectOf(name);
      const deadline = Date.now() + this.times.writeDeadlineMs;
      let msgId = this.nextMsgId();
      let expected: number | undefined;
      let data = Buffer.alloc(0);
      for (let attempt = 0; ; attempt++) {
        if (Date.now() > deadline) throw new Error(`lease ${name}: write timed out`);
        if (expected === undefined) {
          const body = decide(this.leases.get(name));
          if (!body) return { lease: this.leases.get(name), written: false };
          expected = this.viewSeq;
          data = Buffer.from(
            JSON.stringify({ holder: body.holder, acquiredMs: body.acquiredMs, expiresMs: body.expiresMs }),
          );
        }
        const headers = newHeaders();
        headers.set('Nats-Msg-Id', msgId);
        headers.set('Nats-Expected-Last-Sequence', String(expected));
        try {
          const ack = await this.requester.publish(subject, data, headers);
          if (this.viewSeq === ack.seq - 1) this.apply(ack.seq, subject, data);
          else await this.reach(ack.seq);
          return { lease: this.leases.get(name), written: true };
        } catch (error) {
          if (error instanceof ApiError && error.errCode === jsErr.wrongLastSequence) {
            // Another frontend wrote a lease first: look again at the current state.
            await this.sync();
            expected = undefined;
            msgId = this.nextMsgId();
            continue;
          }
          if (!transient(error)) throw error;
          await sleep(backoffMs(attempt, this.times.adminRetryBaseMs, this.times.adminRetryMaxMs));
        }
      }
    };
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => {});
    return run;
  }

  close(): void {
    this.closing = true;
    this.messages?.stop();
    this.progress.release();
  }
}

function transient(error: unknown): boolean {
  if (error instanceof ApiError) return error.code === 503 || error.errCode === jsErr.clusterNotAvailable;
  return error instanceof RequestTimeoutError || error instanceof NoRespondersError;
}
