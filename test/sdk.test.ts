import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import type { Sluice } from '../src/app.js';
import { kinesisClient, sleep, startTestServer } from './helpers.js';

const maxHashKey = (1n << 128n) - 1n;

for (const transport of ['http2', 'http1'] as const) {
  describe(`AWS SDK v3 over ${transport}`, () => {
    let server: Sluice;
    let client: KinesisClient;
    let arn: string;
    const name = `sdk-${transport}`;

    before(async () => {
      server = await startTestServer();
      client = kinesisClient(server.port, { http1: transport === 'http1' });
    });
    after(async () => {
      client.destroy();
      await server.close();
    });

    test('CreateStream, DescribeStream, DescribeStreamSummary', async () => {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 3, Tags: { team: 'a' } }));
      const { StreamDescription: d } = await client.send(new DescribeStreamCommand({ StreamName: name }));
      assert.ok(d);
      arn = d.StreamARN ?? '';
      assert.equal(arn, `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`);
      assert.equal(d.StreamStatus, 'ACTIVE');
      assert.equal(d.RetentionPeriodHours, 24);
      assert.equal(d.HasMoreShards, false);
      assert.equal(d.EncryptionType, 'NONE');
      assert.deepEqual(d.StreamModeDetails, { StreamMode: 'PROVISIONED' });
      assert.deepEqual(
        d.Shards?.map((s) => [s.ShardId, s.HashKeyRange?.StartingHashKey, s.HashKeyRange?.EndingHashKey]),
        [
          ['shardId-000000000000', '0', '113427455640312821154458202477256070484'],
          [
            'shardId-000000000001',
            '113427455640312821154458202477256070485',
            '226854911280625642308916404954512140969',
          ],
          ['shardId-000000000002', '226854911280625642308916404954512140970', maxHashKey.toString()],
        ],
      );
      assert.ok(d.StreamCreationTimestamp instanceof Date);
      assert.ok(Math.abs(d.StreamCreationTimestamp.getTime() - Date.now()) < 60_000);
      const byArn = await client.send(new DescribeStreamSummaryCommand({ StreamARN: arn }));
      const s = byArn.StreamDescriptionSummary;
      assert.equal(s?.StreamName, name);
      assert.equal(s?.OpenShardCount, 3);
      assert.equal(s?.ConsumerCount, 0);
      assert.match(s?.StreamId ?? '', /^[a-z0-9]{20}-[a-z0-9]{3}$/);
    });

    test('DescribeStream pages shards with Limit and ExclusiveStartShardId', async () => {
      const first = await client.send(new DescribeStreamCommand({ StreamARN: arn, Limit: 2 }));
      assert.deepEqual(
        first.StreamDescription?.Shards?.map((s) => s.ShardId),
        ['shardId-000000000000', 'shardId-000000000001'],
      );
      assert.equal(first.StreamDescription?.HasMoreShards, true);
      const rest = await client.send(
        new DescribeStreamCommand({
          StreamName: name,
          Limit: 2,
          ExclusiveStartShardId: 'shardId-000000000001',
        }),
      );
      assert.deepEqual(
        rest.StreamDescription?.Shards?.map((s) => s.ShardId),
        ['shardId-000000000002'],
      );
      assert.equal(rest.StreamDescription?.HasMoreShards, false);
    });

    test('ListStreams with StreamSummaries, Limit, NextToken and ExclusiveStartStreamName', async () => {
      await client.send(new CreateStreamCommand({ StreamName: `${name}-b`, ShardCount: 1 }));
      await client.send(
        new CreateStreamCommand({ StreamName: `${name}-c`, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }),
      );
      const all = await client.send(new ListStreamsCommand({}));
      assert.deepEqual(all.StreamNames, [name, `${name}-b`, `${name}-c`]);
      assert.equal(all.HasMoreStreams, false);
      assert.equal(all.StreamSummaries?.[2]?.StreamModeDetails?.StreamMode, 'ON_DEMAND');
      assert.equal(all.StreamSummaries?.[0]?.StreamARN, arn);
      const page1 = await client.send(new ListStreamsCommand({ Limit: 2 }));
      assert.deepEqual(page1.StreamNames, [name, `${name}-b`]);
      assert.equal(page1.HasMoreStreams, true);
      assert.ok(page1.NextToken);
      const page2 = await client.send(new ListStreamsCommand({ NextToken: page1.NextToken }));
      assert.deepEqual(page2.StreamNames, [`${name}-c`]);
      const after = await client.send(new ListStreamsCommand({ ExclusiveStartStreamName: `${name}-b` }));
      assert.deepEqual(after.StreamNames, [`${name}-c`]);
      const onDemand = await client.send(new DescribeStreamSummaryCommand({ StreamName: `${name}-c` }));
      assert.equal(onDemand.StreamDescriptionSummary?.OpenShardCount, 4);
    });

    test('ListShards pages with MaxResults/NextToken and applies every ShardFilter type', async () => {
      const page1 = await client.send(new ListShardsCommand({ StreamName: name, MaxResults: 2 }));
      assert.deepEqual(
        page1.Shards?.map((s) => s.ShardId),
        ['shardId-000000000000', 'shardId-000000000001'],
      );
      assert.ok(page1.NextToken);
      const page2 = await client.send(new ListShardsCommand({ NextToken: page1.NextToken }));
      assert.deepEqual(
        page2.Shards?.map((s) => s.ShardId),
        ['shardId-000000000002'],
      );
      assert.equal(page2.NextToken, undefined);
      const start = await client.send(
        new ListShardsCommand({ StreamARN: arn, ExclusiveStartShardId: 'shardId-000000000000' }),
      );
      assert.equal(start.Shards?.length, 2);
      const filters = [
        { Type: 'AFTER_SHARD_ID' as const, ShardId: 'shardId-000000000001' },
        { Type: 'AT_TRIM_HORIZON' as const },
        { Type: 'FROM_TRIM_HORIZON' as const },
        { Type: 'AT_LATEST' as const },
        { Type: 'AT_TIMESTAMP' as const, Timestamp: new Date() },
        { Type: 'FROM_TIMESTAMP' as const, Timestamp: new Date(0) },
      ];
      const counts = [];
      for (const ShardFilter of filters) {
        const out = await client.send(new ListShardsCommand({ StreamName: name, ShardFilter }));
        counts.push(out.Shards?.length);
      }
      assert.deepEqual(counts, [1, 3, 3, 3, 3, 3]);
    });

    test('PutRecord routes by MD5 of the partition key and by ExplicitHashKey', async () => {
      // MD5('a') = 0cc175b9c0f1b6a831c399e269772661 -> below 2^128/3, so shard 0.
      const a = await client.send(
        new PutRecordCommand({ StreamName: name, PartitionKey: 'a', Data: Buffer.from('first') }),
      );
      assert.equal(a.ShardId, 'shardId-000000000000');
      assert.match(a.SequenceNumber ?? '', /^\d{56}$/);
      assert.equal(a.EncryptionType, undefined);
      const high = await client.send(
        new PutRecordCommand({
          StreamARN: arn,
          PartitionKey: 'a',
          ExplicitHashKey: maxHashKey.toString(),
          Data: Buffer.from('last'),
        }),
      );
      assert.equal(high.ShardId, 'shardId-000000000002');
      const ordered = await client.send(
        new PutRecordCommand({
          StreamName: name,
          PartitionKey: 'a',
          Data: Buffer.from('second'),
          SequenceNumberForOrdering: a.SequenceNumber,
        }),
      );
      assert.ok(BigInt(ordered.SequenceNumber ?? 0) > BigInt(a.SequenceNumber ?? 0));
    });

    test('PutRecords returns per-record results in order; GetRecords reads them back', async () => {
      const records = Array.from({ length: 50 }, (_, i) => ({
        PartitionKey: `key-${i}`,
        Data: Buffer.from([i, 0, 255, i]),
      }));
      const put = await client.send(new PutRecordsCommand({ StreamName: name, Records: records }));
      assert.equal(put.FailedRecordCount, 0);
      assert.equal(put.Records?.length, 50);
      const perShard = new Map<string, string[]>();
      put.Records?.forEach((r, i) => {
        assert.ok(r.ShardId && r.SequenceNumber);
        perShard.set(r.ShardId, [...(perShard.get(r.ShardId) ?? []), `key-${i}`]);
      });
      assert.equal(perShard.size, 3, 'keys spread over all shards');
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: name,
          ShardId: 'shardId-000000000001',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const got = await client.send(new GetRecordsCommand({ ShardIterator }));
      assert.deepEqual(
        got.Records?.map((r) => r.PartitionKey),
        perShard.get('shardId-000000000001'),
      );
      for (const r of got.Records ?? []) {
        const i = Number(r.PartitionKey?.slice(4));
        assert.deepEqual(Buffer.from(r.Data ?? []), Buffer.from([i, 0, 255, i]));
        assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
      }
      assert.equal(got.MillisBehindLatest, 0);
      assert.ok(got.NextShardIterator);
      const empty = await client.send(new GetRecordsCommand({ ShardIterator: got.NextShardIterator }));
      assert.deepEqual(empty.Records, []);
      assert.ok(empty.NextShardIterator);
    });

    test('GetShardIterator: all five types', async () => {
      const shard = 'shardId-000000000000';
      const read = async (input: Record<string, unknown>) => {
        const { ShardIterator } = await client.send(
          new GetShardIteratorCommand({ StreamName: name, ShardId: shard, ...input } as never),
        );
        const out = await client.send(new GetRecordsCommand({ ShardIterator }));
        return out.Records ?? [];
      };
      const all = await read({ ShardIteratorType: 'TRIM_HORIZON' });
      assert.ok(all.length >= 3);
      const second = all[1]?.SequenceNumber;
      const at = await read({ ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: second });
      assert.deepEqual(
        at.map((r) => r.SequenceNumber),
        all.slice(1).map((r) => r.SequenceNumber),
      );
      const afterSeq = await read({
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: second,
      });
      assert.deepEqual(
        afterSeq.map((r) => r.SequenceNumber),
        all.slice(2).map((r) => r.SequenceNumber),
      );
      assert.deepEqual(await read({ ShardIteratorType: 'LATEST' }), []);
      const past = await read({
        ShardIteratorType: 'AT_TIMESTAMP',
        Timestamp: new Date(Date.now() - 60_000),
      });
      assert.equal(past.length, all.length);
      const { ShardIterator: latest } = await client.send(
        new GetShardIteratorCommand({ StreamName: name, ShardId: shard, ShardIteratorType: 'LATEST' }),
      );
      await client.send(
        new PutRecordCommand({ StreamName: name, PartitionKey: 'a', Data: Buffer.from('new') }),
      );
      const fresh = await client.send(new GetRecordsCommand({ ShardIterator: latest }));
      assert.deepEqual(
        fresh.Records?.map((r) => Buffer.from(r.Data ?? []).toString()),
        ['new'],
      );
    });

    test('GetRecords honours Limit and reports MillisBehindLatest while behind', async () => {
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamARN: arn,
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      await sleep(20);
      const one = await client.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }));
      assert.equal(one.Records?.length, 1);
      assert.ok((one.MillisBehindLatest ?? 0) > 0);
      const rest = await client.send(
        new GetRecordsCommand({ ShardIterator: one.NextShardIterator, StreamARN: arn }),
      );
      assert.equal(rest.MillisBehindLatest, 0);
      assert.ok((rest.Records?.length ?? 0) >= 1);
    });

    test('DeleteStream removes the stream and its records', async () => {
      await client.send(new DeleteStreamCommand({ StreamName: `${name}-b` }));
      await client.send(new DeleteStreamCommand({ StreamARN: arn.replace(name, `${name}-c`) }));
      await client.send(new DeleteStreamCommand({ StreamName: name }));
      const list = await client.send(new ListStreamsCommand({}));
      assert.deepEqual(list.StreamNames, []);
      await assert.rejects(client.send(new DescribeStreamCommand({ StreamName: name })), {
        name: 'ResourceNotFoundException',
        message: `Stream ${name} under account 000000000000 not found.`,
      });
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: name,
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const out = await client.send(new GetRecordsCommand({ ShardIterator }));
      assert.deepEqual(out.Records, [], 'a re-created stream starts empty');
    });
  });
}
