import { randomUUID } from 'node:crypto';
import { consumerArnOf, findConsumer } from '../engine/consumers.js';
import type { Engine } from '../engine/engine.js';
import { shardIdOf, shardIndexOf } from '../engine/hash.js';
import { messages } from '../engine/messages.js';
import { encodeSequence } from '../engine/sequence.js';
import { server as bounds, kinesis } from '../limits.js';
import type { WireCodec } from '../protocol/codec.js';
import { errors, KinesisError } from '../protocol/errors.js';
import { eventMessage, eventStreamContentType, exceptionMessage } from '../protocol/eventstream.js';
import type { StreamingOutput } from '../server/handler.js';
import type { Response } from '../server/listener.js';
import type { ShardDoc, StreamDoc } from '../store/store.js';
import type { Handler, Input } from './operations.js';

/**
 * SubscribeToShard (enhanced fan-out): after the checks, the response is an event stream that
 * pushes the shard's records as they are written, for 5 minutes. Every wait is bounded: the
 * subscriber reads at most 2 MiB/s, a write the client has not taken (HTTP/2 flow control)
 * pauses reading until it drains, so a slow subscriber holds at most one event in memory.
 */

interface Subscriptions {
  active: number;
  /** Responses being written, to measure what waits in memory for slow clients. */
  responses: Set<Response>;
}

/** Subscriptions served now and the bytes written to them that their clients have not taken. */
export function subscriptionStats(engine: Engine): { active: number; bufferedBytes: number } {
  const subs = registry.get(engine);
  let bufferedBytes = 0;
  for (const res of subs?.responses ?? [])
    bufferedBytes += (res as NodeJS.WritableStream & { writableLength: number }).writableLength ?? 0;
  return { active: subs?.active ?? 0, bufferedBytes };
}

const registry = new WeakMap<Engine, Subscriptions>();

function subscriptionsOf(engine: Engine): Subscriptions {
  let subs = registry.get(engine);
  if (!subs) {
    subs = { active: 0, responses: new Set() };
    registry.set(engine, subs);
  }
  return subs;
}

export interface SubscribeInput {
  ConsumerARN: string;
  ShardId: string;
  StartingPosition: { Type: string; SequenceNumber?: string; Timestamp?: Date };
}

async function subscribe(engine: Engine, input: SubscribeInput): Promise<StreamingOutput> {
  const account = engine.config.accountId;
  const { doc, consumer } = findConsumer(engine, { ConsumerARN: input.ConsumerARN });
  if (consumer.status !== 'ACTIVE') {
    throw errors.resourceInUse(
      messages.consumerNotActive(consumer.name, Math.floor(consumer.createdMs / 1000), doc.name, account),
    );
  }
  if (doc.status !== 'ACTIVE' && doc.status !== 'UPDATING') {
    throw errors.resourceInUse(messages.streamNotActive(doc.name, account, doc.status));
  }
  const index = shardIndexOf(input.ShardId);
  const shard = index === undefined ? undefined : doc.shards.find((s) => s.index === index);
  if (!shard) throw errors.resourceNotFound(messages.shardNotFound(input.ShardId, doc.name, account));
  const start = input.StartingPosition;
  const position = await engine.startPosition(doc, shard, start.Type, start.SequenceNumber, start.Timestamp);

  const subs = subscriptionsOf(engine);
  if (subs.active >= bounds.maxSubscriptions) {
    throw errors.limitExceeded(messages.tooManySubscriptions(bounds.maxSubscriptions));
  }
  // The 5-second rule across every frontend of the store: a lease per consumer and shard, taken
  // by compare-and-set; its holder is this subscription until a newer one takes it over.
  const lease = {
    name: subscriptionLeaseName(consumerArnOf(engine, doc, consumer), shard.index),
    id: randomUUID(),
  };
  const inUse = () =>
    errors.resourceInUse(
      messages.subscriptionExists(account, doc.name, shardIdOf(shard.index), consumer.name),
    );
  const { written } = await engine.store.updateLease(lease.name, (current) => {
    const now = Date.now();
    if (current && now - current.acquiredMs < kinesis.resubscribeWaitMs) return undefined;
    return { holder: lease.id, acquiredMs: now, expiresMs: now + kinesis.subscriptionLifetimeMs };
  });
  if (!written) throw inUse();

  return {
    streaming: true,
    start: (res, codec) => {
      subs.active++;
      subs.responses.add(res);
      void pump(engine, doc, shard, position, res, codec, lease, inUse).finally(() => {
        subs.active--;
        subs.responses.delete(res);
      });
    },
  };
}

/** Push events until the subscription's lifetime ends, the shard ends, or the client leaves. */
async function pump(
  engine: Engine,
  startDoc: StreamDoc,
  shard: ShardDoc,
  startPosition: number,
  res: Response,
  codec: WireCodec,
  lease: { name: string; id: string },
  inUse: () => KinesisError,
): Promise<void> {
  const payloadType = codec.wire === 'json' ? 'application/json' : codec.responseContentType;
  const deadline = Date.now() + kinesis.subscriptionLifetimeMs;
  let closed = false;
  let wake: (() => void) | undefined;
  const onClose = () => {
    closed = true;
    wake?.();
  };
  res.once('close', onClose);
  const unsubscribe = engine.onAppend((streamKey, shards) => {
    if (streamKey === startDoc.key && shards.has(shard.index)) wake?.();
  });
  // A newer subscription for the same consumer and shard, on any frontend, ends this one.
  const unwatchLease = engine.store.watchLeases((changed) => {
    if (changed.name === lease.name && changed.holder !== lease.id) wake?.();
  });
  const superseded = () => {
    const current = engine.store.peekLease(lease.name);
    return current !== undefined && current.holder !== lease.id;
  };
  const waitFor = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      // Appends through other frontends (a store shared by a fleet) wake the wait too.
      const unwatchShard = engine.store.watchShard?.(startDoc.key, shard.index, () => wake?.());
      function done() {
        clearTimeout(timer);
        unwatchShard?.();
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  /** Write one message; resolves once the client has room for more (flow control). */
  const write = (bytes: Uint8Array) =>
    new Promise<void>((resolve) => {
      if (closed) return resolve();
      if ((res as NodeJS.WritableStream).write(bytes)) return resolve();
      const drained = () => {
        res.off('close', drained);
        res.off('drain', drained);
        resolve();
      };
      res.once('drain', drained);
      res.once('close', drained);
    });

  res.setHeader('Content-Type', eventStreamContentType);
  res.writeHead(200);
  await write(eventMessage('initial-response', payloadType, bytesOf(codec.encode({}))));

  let position = startPosition;
  let lastArrivalMs = shard.openedMs;
  let sentAt = Date.now();
  try {
    while (!closed && Date.now() < deadline) {
      if (superseded()) throw inUse();
      const doc = findCurrent(engine, startDoc);
      if (!doc)
        throw errors.resourceNotFound(messages.streamNotFound(startDoc.name, engine.config.accountId));
      const current = doc.shards.find((s) => s.index === shard.index) ?? shard;
      const read = await engine.readShard(
        doc,
        current,
        position,
        kinesis.getRecordsMaxRecords,
        kinesis.subscriberBytesPerSec,
      );
      if (read.records.length > 0 || read.ended || Date.now() - sentAt >= bounds.subscribeIdleEventMs) {
        if (read.lastArrivalMs !== undefined) lastArrivalMs = read.lastArrivalMs;
        const event = {
          Records: read.records,
          // Where a new subscription continues (AFTER_SEQUENCE_NUMBER): the last record sent,
          // or "before position" when nothing was sent yet.
          ContinuationSequenceNumber: encodeSequence({
            arrivalMs: lastArrivalMs,
            shard: shard.index,
            position: read.next - 1,
          }),
          MillisBehindLatest: read.millisBehindLatest,
          ChildShards: read.childShards,
        };
        await write(eventMessage('SubscribeToShardEvent', payloadType, bytesOf(codec.encode(event))));
        sentAt = Date.now();
        position = read.next;
        if (read.ended) break;
        // Each subscriber reads at most 2 MiB/s per shard: pace by what was just sent.
        const pace = (read.bytes / kinesis.subscriberBytesPerSec) * 1000;
        if (pace >= 1) await waitFor(pace);
        if (read.records.length > 0) continue;
      }
      await waitFor(Math.max(1, bounds.subscribeIdleEventMs - (Date.now() - sentAt)));
    }
  } catch (error) {
    const failure = error instanceof KinesisError ? error : errors.internal();
    const body = codec.encodeError(failure.type, failure.message || undefined, 'message');
    if (!closed) await write(exceptionMessage(failure.type, payloadType, bytesOf(body)));
  } finally {
    unsubscribe();
    unwatchLease();
    res.off('close', onClose);
    if (!closed) res.end();
  }
}

/** The lease of one consumer on one shard (the 5-second rule and the takeover). */
export function subscriptionLeaseName(consumerArn: string, shard: number): string {
  return `subscription/${consumerArn}/${shard}`;
}

function findCurrent(engine: Engine, start: StreamDoc): StreamDoc | undefined {
  for (const doc of engine.streams()) if (doc.key === start.key) return doc;
  return undefined;
}

function bytesOf(body: Buffer | string): Uint8Array {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

export const subscribeOperations: Record<string, Handler> = {
  SubscribeToShard: (e, i: Input) => subscribe(e, i),
};
