/**
 * A frontend whose NATS store takes fewer records than it admits sheds writes early: while the
 * oldest append waiting for the store has waited past `--max-store-wait-ms` (alarm at 80%), new
 * PutRecords get 503 ServiceUnavailable before their body is read, instead of queuing to the
 * request deadline; reads keep being served, nothing acknowledged is lost, and writes are taken
 * again once the backlog is gone. The bound is set low here so that one shard's backlog under 64
 * concurrent writers passes it on any machine.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { kinesisClient, sleep } from './helpers.js';
import { type NatsServers, startFrontend, startNats, stopFrontend } from './nats-helpers.js';

/** A 503 the SDK surfaces as a `ServiceUnavailable` service error (not a modeled exception). */
function unavailable(error: unknown): error is Error {
  return error instanceof Error && error.name === 'ServiceUnavailable';
}

describe('a frontend whose NATS store falls behind', { timeout: 180_000 }, () => {
  let nats: NatsServers;
  let frontend: { child: ChildProcess; port: number };
  let client: KinesisClient;
  const stream = 'backlog';

  before(async () => {
    nats = await startNats();
    frontend = await startFrontend(nats.storeUrl, ['--max-store-wait-ms', '20', '--max-in-flight', '256']);
    client = kinesisClient(frontend.port);
    await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  });

  after(async () => {
    client?.destroy();
    if (frontend) await stopFrontend(frontend.child);
    await nats?.stop();
  });

  test('refuses writes with 503 while the store backlog is high, keeps serving reads, loses nothing', async () => {
    const payload = Buffer.alloc(1024, 7);
    let acknowledged = 0;
    let shed = 0;
    let readsServed = 0;
    const otherErrors: string[] = [];
    const until = Date.now() + 20_000;
    let done = false;

    const writer = async (id: number) => {
      for (let round = 0; round < 40 && Date.now() < until && !done; round++) {
        try {
          const out = await client.send(
            new PutRecordsCommand({
              StreamName: stream,
              Records: Array.from({ length: 500 }, (_, i) => ({
                PartitionKey: `w${id}-${i}`,
                Data: payload,
              })),
            }),
          );
          acknowledged += 500 - (out.FailedRecordCount ?? 0);
        } catch (error) {
          if (unavailable(error) && /store_append_wait/.test(error.message)) shed++;
          else otherErrors.push(String(error));
        }
      }
    };
    const reader = async () => {
      for (let round = 0; round < 200 && Date.now() < until && !done; round++) {
        try {
          await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
          readsServed++;
        } catch (error) {
          otherErrors.push(`read: ${error}`);
        }
        await sleep(50);
      }
    };
    const writers = Array.from({ length: 64 }, (_, i) => writer(i));
    const readers = [reader(), reader()];
    // Stop the load soon after the first refusals have been seen (bounded by `until` anyway).
    while (Date.now() < until && shed < 20) await sleep(100);
    done = true;
    await Promise.all([...writers, ...readers]);

    assert.deepEqual(otherErrors, [], 'only backlog refusals, no other errors');
    assert.ok(shed > 0, 'some writes were refused with 503 naming store_append_wait');
    assert.ok(readsServed > 0, 'reads were served during the backlog');

    // Writes are taken again once the backlog is gone (the SDK's retries with backoff).
    let accepted = false;
    for (let attempt = 0; attempt < 50 && !accepted; attempt++) {
      try {
        await client.send(
          new PutRecordsCommand({ StreamName: stream, Records: [{ PartitionKey: 'after', Data: payload }] }),
        );
        acknowledged += 1;
        accepted = true;
      } catch (error) {
        if (!unavailable(error)) throw error;
        await sleep(200);
      }
    }
    assert.ok(accepted, 'writes are accepted again after the backlog');

    // Every acknowledged record is stored, once.
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    let iterator = ShardIterator;
    let stored = 0;
    for (let page = 0; page < 2_000 && iterator; page++) {
      const out = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      stored += out.Records?.length ?? 0;
      if ((out.MillisBehindLatest ?? 0) === 0 && (out.Records?.length ?? 0) === 0) break;
      iterator = out.NextShardIterator;
    }
    assert.equal(stored, acknowledged, 'every acknowledged record stored once');
  });
});
