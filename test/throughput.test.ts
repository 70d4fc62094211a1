import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import type { Sluice } from '../src/app.js';
import { awsThroughput } from '../src/engine/engine.js';
import { kinesisClient, sleep, startTestServer } from './helpers.js';

const account = '000000000000';

describe("per-shard throughput limits (the service's, on by default)", () => {
  let server: Sluice;
  let client: KinesisClient;
  before(async () => {
    server = await startTestServer({ engine: { throughput: awsThroughput } });
    client = kinesisClient(server.port);
    await client.send(new CreateStreamCommand({ StreamName: 'limited', ShardCount: 2 }));
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('PutRecords fails only the records over 1,000 records/s of their shard, in place', async () => {
    const shard0 = '0';
    const shard1 = ((1n << 128n) - 1n).toString();
    const batch = (hashKey: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        PartitionKey: `k${i}`,
        ExplicitHashKey: hashKey,
        Data: Buffer.from('x'),
      }));
    const first = await client.send(
      new PutRecordsCommand({ StreamName: 'limited', Records: batch(shard0, 500) }),
    );
    assert.equal(first.FailedRecordCount, 0);
    await client.send(new PutRecordsCommand({ StreamName: 'limited', Records: batch(shard0, 450) }));
    const second = await client.send(
      new PutRecordsCommand({
        StreamName: 'limited',
        Records: [...batch(shard0, 490), ...batch(shard1, 10)],
      }),
    );
    const failed = second.Records?.filter((r) => r.ErrorCode) ?? [];
    assert.ok(failed.length > 0 && failed.length < 490, `some of shard 0's records fail (${failed.length})`);
    assert.equal(second.FailedRecordCount, failed.length);
    assert.deepEqual(failed[0], {
      ErrorCode: 'ProvisionedThroughputExceededException',
      ErrorMessage: `Rate exceeded for shard shardId-000000000000 in stream limited under account ${account}.`,
    });
    assert.ok(
      second.Records?.slice(490).every((r) => r.ShardId === 'shardId-000000000001' && r.SequenceNumber),
      "shard 1's records all succeed",
    );
    await sleep(1_100); // the bucket refills within a second
    const later = await client.send(
      new PutRecordCommand({
        StreamName: 'limited',
        PartitionKey: 'a',
        ExplicitHashKey: shard0,
        Data: Buffer.from('x'),
      }),
    );
    assert.ok(later.SequenceNumber);
  });

  test('PutRecord over the limit is refused whole with the service error', async () => {
    const tight = await startTestServer({
      engine: { throughput: { ...awsThroughput, writeRecordsPerSec: 1 } },
    });
    const c = kinesisClient(tight.port);
    try {
      await c.send(new CreateStreamCommand({ StreamName: 'one', ShardCount: 1 }));
      const put = () =>
        c.send(new PutRecordCommand({ StreamName: 'one', PartitionKey: 'a', Data: Buffer.from('x') }));
      await put();
      await assert.rejects(put(), {
        name: 'ProvisionedThroughputExceededException',
        message: `Rate exceeded for shard shardId-000000000000 in stream one under account ${account}.`,
      });
    } finally {
      c.destroy();
      await tight.close();
    }
  });

  test('a write of more than 1 MiB/s to a shard is refused until it is paid off', async () => {
    const big = Buffer.alloc(700 * 1024);
    const put = () =>
      client.send(
        new PutRecordCommand({ StreamName: 'limited', PartitionKey: 'b', ExplicitHashKey: '1', Data: big }),
      );
    await sleep(1_100);
    await put();
    await put(); // admitted while the bucket is positive, leaving it in debt
    await assert.rejects(put(), { name: 'ProvisionedThroughputExceededException' });
  });

  test('GetRecords allows 5 calls per second per shard', async () => {
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: 'limited',
        ShardId: 'shardId-000000000001',
        ShardIteratorType: 'LATEST',
      }),
    );
    for (let i = 0; i < 5; i++) await client.send(new GetRecordsCommand({ ShardIterator }));
    await assert.rejects(client.send(new GetRecordsCommand({ ShardIterator })), {
      name: 'ProvisionedThroughputExceededException',
      message: `Rate exceeded for Shard - ${account}/limited/shardId-000000000001`,
    });
    await sleep(300);
    await client.send(new GetRecordsCommand({ ShardIterator }));
  });
});
