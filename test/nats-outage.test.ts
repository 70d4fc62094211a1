/**
 * A frontend that loses its store answers with retryable errors at once, and recovers by itself:
 * a `sluice serve --store nats://...` child over one real nats-server; the server is killed, every
 * API call then gets a fast 503 ServiceUnavailable saying the store is unreachable (which the AWS
 * SDK v3 retries), never a hang; the server is started again on the same port and folder, and the
 * same frontend process serves again (the SDK with its default retries succeeds), with every
 * acknowledged record still there.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  type PutRecordsCommandOutput,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis';
import { guard, storeHealth } from '../src/limits.js';
import { kinesisClient, sleep, testCredentials } from './helpers.js';
import { type NatsServers, startFrontend, startNats, stopFrontend } from './nats-helpers.js';

interface Health {
  status: string;
  storeError?: string;
  metadata: { version: number; lag: number | null; measuredAgoMs: number | null };
}

async function health(port: number): Promise<{ code: number; body: Health }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return { code: res.status, body: (await res.json()) as Health };
}

const unreachable = /cannot reach its store/;

describe('a frontend whose NATS store goes away', { timeout: 180_000 }, () => {
  let nats: NatsServers;
  let frontend: { child: ChildProcess; port: number };
  let once: KinesisClient; // one attempt: to see each answer
  let sdk: KinesisClient; // the SDK's default retry strategy (3 attempts)
  const stream = 'outage';
  const acknowledged: string[] = [];

  before(async () => {
    nats = await startNats();
    frontend = await startFrontend(nats.storeUrl);
    once = kinesisClient(frontend.port);
    sdk = new KinesisClient({
      endpoint: `http://127.0.0.1:${frontend.port}`,
      region: 'us-east-1',
      credentials: testCredentials,
    });
    await once.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
    const out = await once.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: Array.from({ length: 20 }, (_, i) => ({
          PartitionKey: `k${i}`,
          Data: Buffer.from(`before-${i}`),
        })),
      }),
    );
    assert.equal(out.FailedRecordCount, 0);
    for (let i = 0; i < 20; i++) acknowledged.push(`before-${i}`);
  });

  after(async () => {
    once?.destroy();
    sdk?.destroy();
    if (frontend) await stopFrontend(frontend.child);
    await nats?.stop();
  });

  test('answers 503 ServiceUnavailable at once while the store is down, then serves again by itself', async () => {
    const { ShardIterator } = await once.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const node = nats.nodes[0];
    assert.ok(node);
    await node.kill();

    // A write sent right away, while the frontend has only just seen the connection drop: it fails
    // once the disconnection has lasted storeHealth.unreachableAfterMs, not at the request deadline.
    const calls: Array<[string, () => Promise<unknown>]> = [
      [
        'PutRecords',
        () =>
          once.send(
            new PutRecordsCommand({
              StreamName: stream,
              Records: [{ PartitionKey: 'a', Data: Buffer.from('lost?') }],
            }),
          ),
      ],
      [
        'PutRecord',
        () =>
          once.send(
            new PutRecordCommand({ StreamName: stream, PartitionKey: 'a', Data: Buffer.from('lost?') }),
          ),
      ],
      ['DescribeStream', () => once.send(new DescribeStreamCommand({ StreamName: stream }))],
      ['ListShards', () => once.send(new ListShardsCommand({ StreamName: stream }))],
      ['GetRecords', () => once.send(new GetRecordsCommand({ ShardIterator }))],
      [
        'GetShardIterator',
        () =>
          once.send(
            new GetShardIteratorCommand({
              StreamName: stream,
              ShardId: 'shardId-000000000001',
              ShardIteratorType: 'LATEST',
            }),
          ),
      ],
    ];
    const rows: string[] = [];
    for (const [name, call] of calls) {
      const started = performance.now();
      const error = await call().then(
        () => assert.fail(`${name} succeeded without a store`),
        (e: unknown) => e as { name: string; message: string; $metadata?: { httpStatusCode?: number } },
      );
      const ms = performance.now() - started;
      rows.push(`${name}: ${error.$metadata?.httpStatusCode} ${error.name} in ${ms.toFixed(0)} ms`);
      assert.equal(error.name, 'ServiceUnavailable', `${name}: ${error.name}: ${error.message}`);
      assert.equal(error.$metadata?.httpStatusCode, 503);
      assert.match(error.message, unreachable, `${name} says why`);
      // Not the request deadline's 503: the frontend answered on its own, well before it.
      assert.ok(ms < guard.requestDeadlineMs, `${name} answered in ${ms} ms`);
    }
    console.log(
      `with the store down (unreachable after ${storeHealth.unreachableAfterMs} ms):\n  ${rows.join('\n  ')}`,
    );

    // /health says so (503, for load balancers), without waiting for the store.
    const down = await health(frontend.port);
    assert.equal(down.code, 503);
    assert.equal(down.body.status, 'store-unreachable');
    assert.match(down.body.storeError ?? '', unreachable);

    // The SDK classifies the answer as retryable: its default strategy tries 3 times.
    const retried = await sdk.send(new DescribeStreamCommand({ StreamName: stream })).then(
      () => assert.fail('DescribeStream succeeded without a store'),
      (e: unknown) => e as { name: string; $metadata?: { attempts?: number } },
    );
    assert.equal(retried.name, 'ServiceUnavailable');
    assert.equal(retried.$metadata?.attempts, 3, 'the SDK retried the 503');

    await node.restart();

    // The same frontend process serves again: calls with the SDK's default retries succeed once it
    // has reconnected and JetStream has recovered its streams. Meanwhile every failure is a 5xx,
    // which the SDK retries; no call hangs (each is bounded by the request deadline).
    let put: PutRecordsCommandOutput | undefined;
    const failures = new Set<string>();
    for (let attempt = 0; attempt < 120 && !put; attempt++) {
      try {
        put = await sdk.send(
          new PutRecordsCommand({
            StreamName: stream,
            Records: Array.from({ length: 10 }, (_, i) => ({
              PartitionKey: `k${i}`,
              Data: Buffer.from(`after-${i}`),
            })),
          }),
        );
      } catch (e) {
        const error = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
        assert.ok(
          (error.$metadata?.httpStatusCode ?? 0) >= 500,
          `retryable while recovering: ${error.name}: ${error.message}`,
        );
        failures.add(`${error.$metadata?.httpStatusCode} ${error.name}`);
        await sleep(500);
      }
    }
    assert.ok(put, 'writes resumed');
    console.log(`after the restart: failures seen while recovering: ${[...failures].join(', ') || 'none'}`);
    assert.equal(frontend.child.exitCode, null, 'the frontend was not restarted');
    assert.equal(put.FailedRecordCount, 0);
    for (let i = 0; i < 10; i++) acknowledged.push(`after-${i}`);

    const up = await health(frontend.port);
    assert.equal(up.code, 200);
    assert.equal(up.body.status, 'ok');

    // Every acknowledged record is there, once.
    const seen: string[] = [];
    for (const shardId of ['shardId-000000000000', 'shardId-000000000001']) {
      let { ShardIterator: iterator } = await sdk.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      for (let calls = 0; calls < 20 && iterator; calls++) {
        const out = await sdk.send(new GetRecordsCommand({ ShardIterator: iterator }));
        for (const r of out.Records ?? []) seen.push(Buffer.from(r.Data ?? []).toString());
        if ((out.Records ?? []).length === 0 && out.MillisBehindLatest === 0) break;
        iterator = out.NextShardIterator;
      }
    }
    for (const data of acknowledged) assert.ok(seen.includes(data), `${data} is still there`);
    const described = await sdk.send(new DescribeStreamCommand({ StreamName: stream }));
    assert.equal(described.StreamDescription?.StreamStatus, 'ACTIVE');

    // Its metadata view follows the log again: a stream created through another frontend shows.
    const other = await startFrontend(nats.storeUrl);
    try {
      const client = kinesisClient(other.port);
      await client.send(new CreateStreamCommand({ StreamName: 'after-outage', ShardCount: 1 }));
      client.destroy();
      let found = false;
      for (let attempt = 0; attempt < 100 && !found; attempt++) {
        try {
          await sdk.send(new DescribeStreamCommand({ StreamName: 'after-outage' }));
          found = true;
        } catch (e) {
          if (!(e instanceof ResourceNotFoundException)) throw e;
          await sleep(100);
        }
      }
      assert.ok(found, 'the recovered frontend learned of a stream created elsewhere');
      const view = await health(frontend.port);
      assert.equal(typeof view.body.metadata.lag, 'number');
    } finally {
      await stopFrontend(other.child);
    }
  });
});
