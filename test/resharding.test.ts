import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  type Shard,
  SplitShardCommand,
  UpdateShardCountCommand,
  UpdateStreamModeCommand,
  UpdateStreamRecordDistributionStrategyCommand,
} from '@aws-sdk/client-kinesis';
import type { Sluice } from '../src/app.js';
import { kinesisClient, sleep, startTestServer } from './helpers.js';

const account = '000000000000';
const max = (1n << 128n) - 1n;

async function waitActive(client: KinesisClient, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(10);
  }
  throw new Error(`${name} did not become ACTIVE`);
}

async function allShards(client: KinesisClient, name: string, filter?: object): Promise<Shard[]> {
  const out = await client.send(
    new ListShardsCommand({ StreamName: name, ...(filter ? { ShardFilter: filter as never } : {}) }),
  );
  return out.Shards ?? [];
}

/** Read a shard from TRIM_HORIZON to its end (closed) or to its tip (open). */
async function readShard(
  client: KinesisClient,
  name: string,
  shardId: string,
): Promise<{ records: Array<{ key: string; data: string; seq: string }>; children?: string[] }> {
  let { ShardIterator } = await client.send(
    new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
  );
  const records: Array<{ key: string; data: string; seq: string }> = [];
  for (let calls = 0; calls < 10_000; calls++) {
    const out = await client.send(new GetRecordsCommand({ ShardIterator }));
    for (const r of out.Records ?? []) {
      records.push({
        key: r.PartitionKey ?? '',
        data: Buffer.from(r.Data ?? []).toString(),
        seq: r.SequenceNumber ?? '',
      });
    }
    if (!out.NextShardIterator)
      return { records, children: (out.ChildShards ?? []).map((c) => c.ShardId ?? '') };
    if ((out.Records ?? []).length === 0) return { records };
    ShardIterator = out.NextShardIterator;
  }
  throw new Error('read did not finish');
}

describe('resharding', () => {
  let server: Sluice;
  let client: KinesisClient;
  before(async () => {
    server = await startTestServer({ engine: { updateStreamMs: 150, shardLimit: 40 } });
    client = kinesisClient(server.port);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('SplitShard closes the parent, opens two children, and moves writes to them', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'split', ShardCount: 2 }));
    const before = await client.send(
      new PutRecordCommand({
        StreamName: 'split',
        PartitionKey: 'x',
        ExplicitHashKey: '5',
        Data: Buffer.from('old'),
      }),
    );
    assert.equal(before.ShardId, 'shardId-000000000000');
    const half = (max / 2n).toString(); // shard 0 covers [0, 2^127 - 1]
    const mid = (max / 4n).toString();
    await client.send(
      new SplitShardCommand({
        StreamName: 'split',
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: mid,
      }),
    );
    const updating = await client.send(new DescribeStreamCommand({ StreamName: 'split' }));
    assert.equal(updating.StreamDescription?.StreamStatus, 'UPDATING');
    await assert.rejects(
      client.send(
        new SplitShardCommand({
          StreamName: 'split',
          ShardToSplit: 'shardId-000000000001',
          NewStartingHashKey: half,
        }),
      ),
      {
        name: 'ResourceInUseException',
        message: `Stream split under account ${account} not ACTIVE, instead in state UPDATING`,
      },
    );
    const after = await client.send(
      new PutRecordCommand({
        StreamName: 'split',
        PartitionKey: 'x',
        ExplicitHashKey: '5',
        Data: Buffer.from('new'),
      }),
    );
    assert.equal(after.ShardId, 'shardId-000000000002');
    await waitActive(client, 'split');

    const shards = await allShards(client, 'split');
    assert.deepEqual(
      shards.map((s) => [
        s.ShardId,
        s.ParentShardId,
        s.HashKeyRange?.StartingHashKey,
        s.HashKeyRange?.EndingHashKey,
      ]),
      [
        ['shardId-000000000000', undefined, '0', half],
        ['shardId-000000000001', undefined, (BigInt(half) + 1n).toString(), max.toString()],
        ['shardId-000000000002', 'shardId-000000000000', '0', (BigInt(mid) - 1n).toString()],
        ['shardId-000000000003', 'shardId-000000000000', mid, half],
      ],
    );
    const parent = shards[0] as Shard;
    assert.ok(parent.SequenceNumberRange?.EndingSequenceNumber);
    assert.ok(BigInt(parent.SequenceNumberRange.EndingSequenceNumber) > BigInt(before.SequenceNumber ?? 0));
    assert.equal(shards[1]?.SequenceNumberRange?.EndingSequenceNumber, undefined);

    const read = await readShard(client, 'split', 'shardId-000000000000');
    assert.deepEqual(
      read.records.map((r) => r.data),
      ['old'],
    );
    assert.deepEqual(read.children, ['shardId-000000000002', 'shardId-000000000003']);

    assert.equal((await allShards(client, 'split', { Type: 'AT_LATEST' })).length, 3);
    assert.deepEqual(
      (await allShards(client, 'split', { Type: 'AT_TRIM_HORIZON' })).map((s) => s.ShardId),
      ['shardId-000000000000', 'shardId-000000000001'],
    );
    assert.equal((await allShards(client, 'split', { Type: 'FROM_TRIM_HORIZON' })).length, 4);
    assert.equal(
      (await allShards(client, 'split', { Type: 'AT_TIMESTAMP', Timestamp: new Date() })).length,
      3,
    );
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'split' }));
    assert.equal(summary.StreamDescriptionSummary?.OpenShardCount, 3);
  });

  test('SplitShard and MergeShards refuse what the service refuses', async () => {
    const half = (max / 2n).toString();
    await assert.rejects(
      client.send(
        new SplitShardCommand({
          StreamName: 'split',
          ShardToSplit: 'shardId-000000000001',
          NewStartingHashKey: half,
        }),
      ),
      {
        name: 'InvalidArgumentException',
        message: `NewStartingHashKey ${half} used in SplitShard() on shard shardId-000000000001 in stream split under account ${account} is not both greater than one plus the shard's StartingHashKey ${BigInt(half) + 1n} and less than the shard's EndingHashKey ${max}.`,
      },
    );
    await assert.rejects(
      client.send(
        new SplitShardCommand({ StreamName: 'split', ShardToSplit: 'nope', NewStartingHashKey: '10' }),
      ),
      {
        name: 'ResourceNotFoundException',
        message: `Could not find shard nope in stream split under account ${account}.`,
      },
    );
    await assert.rejects(
      client.send(
        new SplitShardCommand({
          StreamName: 'split',
          ShardToSplit: 'shardId-000000000000',
          NewStartingHashKey: '10',
        }),
      ),
      {
        name: 'ResourceInUseException',
        message:
          /^Shard shardId-000000000000 in stream split under account 000000000000 has already been merged or split/,
      },
    );
    await assert.rejects(
      client.send(
        new SplitShardCommand({
          StreamName: 'nope',
          ShardToSplit: 'shardId-000000000000',
          NewStartingHashKey: '10',
        }),
      ),
      { name: 'ResourceNotFoundException', message: `Stream nope under account ${account} not found.` },
    );
    await assert.rejects(
      client.send(
        new MergeShardsCommand({
          StreamName: 'split',
          ShardToMerge: 'shardId-000000000002',
          AdjacentShardToMerge: 'shardId-000000000001',
        }),
      ),
      {
        name: 'InvalidArgumentException',
        message: `Shards shardId-000000000002 and shardId-000000000001 in stream split under account ${account} are not an adjacent pair of shards eligible for merging`,
      },
    );
  });

  test('MergeShards joins two adjacent open shards into one child with both parents', async () => {
    await client.send(
      new MergeShardsCommand({
        StreamName: 'split',
        ShardToMerge: 'shardId-000000000003',
        AdjacentShardToMerge: 'shardId-000000000002',
      }),
    );
    await waitActive(client, 'split');
    const open = await allShards(client, 'split', { Type: 'AT_LATEST' });
    assert.deepEqual(
      open.map((s) => [s.ShardId, s.ParentShardId, s.AdjacentParentShardId, s.HashKeyRange?.StartingHashKey]),
      [
        ['shardId-000000000001', undefined, undefined, (max / 2n + 1n).toString()],
        ['shardId-000000000004', 'shardId-000000000003', 'shardId-000000000002', '0'],
      ],
    );
  });

  test('UpdateShardCount scales uniformly through splits and merges, within the service limits', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'scale', ShardCount: 3 }));
    const out = await client.send(
      new UpdateShardCountCommand({
        StreamName: 'scale',
        TargetShardCount: 6,
        ScalingType: 'UNIFORM_SCALING',
      }),
    );
    assert.deepEqual(
      { c: out.CurrentShardCount, t: out.TargetShardCount, n: out.StreamName, a: out.StreamARN },
      { c: 3, t: 6, n: 'scale', a: `arn:aws:kinesis:us-east-1:${account}:stream/scale` },
    );
    await waitActive(client, 'scale');
    const expectOpen = async (n: number) => {
      const open = await allShards(client, 'scale', { Type: 'AT_LATEST' });
      const size = (max + 1n) / BigInt(n);
      assert.deepEqual(
        open
          .map((s) => s.HashKeyRange?.StartingHashKey)
          .sort((a, b) => (BigInt(a ?? 0) < BigInt(b ?? 0) ? -1 : 1)),
        Array.from({ length: n }, (_, i) => (size * BigInt(i)).toString()),
      );
      for (const s of open) assert.ok(s.ParentShardId, `${s.ShardId} records its parent`);
    };
    await expectOpen(6);
    await assert.rejects(
      client.send(
        new UpdateShardCountCommand({
          StreamName: 'scale',
          TargetShardCount: 13,
          ScalingType: 'UNIFORM_SCALING',
        }),
      ),
      {
        name: 'LimitExceededException',
        message:
          'UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 6, Target shard count: 13',
      },
    );
    await assert.rejects(
      client.send(
        new UpdateShardCountCommand({
          StreamName: 'scale',
          TargetShardCount: 2,
          ScalingType: 'UNIFORM_SCALING',
        }),
      ),
      {
        name: 'LimitExceededException',
        message:
          'UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: 6, Target shard count: 2',
      },
    );
    await client.send(
      new UpdateShardCountCommand({
        StreamName: 'scale',
        TargetShardCount: 4,
        ScalingType: 'UNIFORM_SCALING',
      }),
    );
    await waitActive(client, 'scale');
    await expectOpen(4);
  });

  test('UpdateShardCount respects the account shard limit and 10 calls a day', async () => {
    const limited = await startTestServer({ engine: { updateStreamMs: 0, shardLimit: 10 } });
    const c = kinesisClient(limited.port);
    try {
      await c.send(new CreateStreamCommand({ StreamName: 'lim', ShardCount: 6 }));
      await assert.rejects(
        c.send(
          new UpdateShardCountCommand({
            StreamName: 'lim',
            TargetShardCount: 12,
            ScalingType: 'UNIFORM_SCALING',
          }),
        ),
        {
          name: 'LimitExceededException',
          message:
            'Target shard count or number of open shards cannot be greater than 10. Current open shard count: 6, Target shard count: 12',
        },
      );
      for (let i = 0; i < 10; i++) {
        await c.send(
          new UpdateShardCountCommand({
            StreamName: 'lim',
            TargetShardCount: i % 2 === 0 ? 5 : 6,
            ScalingType: 'UNIFORM_SCALING',
          }),
        );
      }
      await assert.rejects(
        c.send(
          new UpdateShardCountCommand({
            StreamName: 'lim',
            TargetShardCount: 5,
            ScalingType: 'UNIFORM_SCALING',
          }),
        ),
        {
          name: 'LimitExceededException',
          message: `Exceeded the limit of 10 UpdateShardCount calls in a rolling 24-hour period for stream lim under account ${account}.`,
        },
      );
    } finally {
      c.destroy();
      await limited.close();
    }
  });

  test('UpdateStreamMode switches capacity modes; resharding calls are for provisioned streams', async () => {
    const arn = `arn:aws:kinesis:us-east-1:${account}:stream/scale`;
    await client.send(
      new UpdateStreamModeCommand({ StreamARN: arn, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }),
    );
    await waitActive(client, 'scale');
    const s = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'scale' }));
    assert.equal(s.StreamDescriptionSummary?.StreamModeDetails?.StreamMode, 'ON_DEMAND');
    await assert.rejects(
      client.send(
        new UpdateShardCountCommand({
          StreamName: 'scale',
          TargetShardCount: 5,
          ScalingType: 'UNIFORM_SCALING',
        }),
      ),
      { name: 'InvalidArgumentException' },
    );
    await assert.rejects(
      client.send(
        new UpdateStreamModeCommand({ StreamARN: arn, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }),
      ),
      { name: 'ResourceInUseException' },
    );
    await client.send(
      new UpdateStreamModeCommand({ StreamARN: arn, StreamModeDetails: { StreamMode: 'PROVISIONED' } }),
    );
    await waitActive(client, 'scale');
    await assert.rejects(
      client.send(
        new UpdateStreamModeCommand({ StreamARN: arn, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }),
      ),
      { name: 'LimitExceededException' },
      'a third switch within 24 hours is refused',
    );
  });
});

/** A small seeded generator, so a failing sequence can be replayed from the printed seed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('resharding under load (property)', () => {
  let server: Sluice;
  let client: KinesisClient;
  before(async () => {
    server = await startTestServer({ engine: { updateStreamMs: 20, shardLimit: 200 } });
    client = kinesisClient(server.port);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  for (const seed of [1, 2, 3]) {
    test(`random splits, merges and UpdateShardCount while writing keep every record once and per-key order (seed ${seed})`, async () => {
      const random = prng(seed * 7919);
      const name = `prop-${seed}`;
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
      const acked = new Map<string, string[]>(); // partition key -> data in acknowledged order
      let writing = true;
      const writers = Array.from({ length: 3 }, async (_, w) => {
        for (let batch = 0; writing && batch < 2_000; batch++) {
          const keys = Array.from({ length: 4 }, (_, k) => `w${w}-k${(batch + k) % 12}`);
          const records = keys.flatMap((key, k) =>
            [0, 1].map((n) => ({ PartitionKey: key, Data: Buffer.from(`${key}:${batch}:${k}:${n}`) })),
          );
          const out = await client.send(new PutRecordsCommand({ StreamName: name, Records: records }));
          assert.equal(out.FailedRecordCount, 0);
          for (const r of records)
            acked.set(r.PartitionKey, [...(acked.get(r.PartitionKey) ?? []), r.Data.toString()]);
        }
      });
      const steps: string[] = [];
      for (let step = 0; step < 8; step++) {
        await waitActive(client, name);
        const open = await allShards(client, name, { Type: 'AT_LATEST' });
        const choice = random();
        if (choice < 0.4) {
          const shard = open[Math.floor(random() * open.length)] as Shard;
          const start = BigInt(shard.HashKeyRange?.StartingHashKey ?? 0);
          const end = BigInt(shard.HashKeyRange?.EndingHashKey ?? 0);
          if (end - start < 4n) continue;
          const at = start + 2n + BigInt(Math.floor(random() * 1000)) * ((end - start - 3n) / 1000n);
          steps.push(`split ${shard.ShardId} at ${at}`);
          await client.send(
            new SplitShardCommand({
              StreamName: name,
              ShardToSplit: shard.ShardId,
              NewStartingHashKey: at.toString(),
            }),
          );
        } else if (choice < 0.75 && open.length > 1) {
          const sorted = [...open].sort((a, b) =>
            BigInt(a.HashKeyRange?.StartingHashKey ?? 0) < BigInt(b.HashKeyRange?.StartingHashKey ?? 0)
              ? -1
              : 1,
          );
          const i = Math.floor(random() * (sorted.length - 1));
          steps.push(`merge ${sorted[i]?.ShardId} ${sorted[i + 1]?.ShardId}`);
          await client.send(
            new MergeShardsCommand({
              StreamName: name,
              ShardToMerge: sorted[i]?.ShardId,
              AdjacentShardToMerge: sorted[i + 1]?.ShardId,
            }),
          );
        } else {
          const target = Math.max(
            1,
            Math.min(open.length * 2, Math.ceil(open.length / 2) + Math.floor(random() * open.length * 1.5)),
          );
          steps.push(`update ${open.length} -> ${target}`);
          await client.send(
            new UpdateShardCountCommand({
              StreamName: name,
              TargetShardCount: target,
              ScalingType: 'UNIFORM_SCALING',
            }),
          );
        }
        await sleep(5 + Math.floor(random() * 30));
      }
      writing = false;
      await Promise.all(writers);
      await waitActive(client, name);

      // Read like a KCL worker: a shard only after all its parents are finished.
      const shards = await allShards(client, name, { Type: 'FROM_TRIM_HORIZON' });
      const done = new Set<string>();
      const seen = new Map<string, string[]>();
      const pending = [...shards];
      for (let rounds = 0; pending.length > 0 && rounds < 1_000; rounds++) {
        const i = pending.findIndex((s) =>
          [s.ParentShardId, s.AdjacentParentShardId].every((p) => p === undefined || done.has(p)),
        );
        assert.ok(i >= 0, `some shard is ready to read (steps: ${steps.join('; ')})`);
        const [shard] = pending.splice(i, 1);
        const { records } = await readShard(client, name, shard?.ShardId ?? '');
        for (const r of records) seen.set(r.key, [...(seen.get(r.key) ?? []), r.data]);
        done.add(shard?.ShardId ?? '');
      }
      assert.ok(acked.size > 0);
      for (const [key, data] of acked) {
        assert.deepEqual(
          seen.get(key),
          data,
          `key ${key}: every record once, in order (seed ${seed}, steps: ${steps.join('; ')})`,
        );
      }
    });
  }
});

describe('ON_DEMAND capacity policy', () => {
  let server: Sluice;
  let client: KinesisClient;
  before(async () => {
    // Tiny per-shard capacity and a 2 s window, so the policy acts within a test's time.
    server = await startTestServer({
      engine: {
        updateStreamMs: 0,
        onDemand: {
          windowMs: 2000,
          checkMs: 100,
          shardBytesPerSec: 1e9,
          shardRecordsPerSec: 10,
          scaleUpAt: 0.5,
        },
      },
    });
    client = kinesisClient(server.port);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  const openShards = async (name: string) =>
    (await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary
      ?.OpenShardCount;

  test('sustained writes above half the capacity double the shards; light writes do not', async () => {
    await client.send(
      new CreateStreamCommand({ StreamName: 'busy', StreamModeDetails: { StreamMode: 'ON_DEMAND' } }),
    );
    await client.send(
      new CreateStreamCommand({ StreamName: 'calm', StreamModeDetails: { StreamMode: 'ON_DEMAND' } }),
    );
    assert.equal(await openShards('busy'), 4);
    const records = Array.from({ length: 100 }, (_, i) => ({
      PartitionKey: `k${i}`,
      Data: Buffer.from('x'),
    }));
    await client.send(new PutRecordsCommand({ StreamName: 'busy', Records: records }));
    await client.send(new PutRecordsCommand({ StreamName: 'calm', Records: records.slice(0, 5) }));
    let busy = 4;
    for (let i = 0; i < 30 && busy === 4; i++) {
      await sleep(100);
      busy = (await openShards('busy')) ?? 0;
    }
    assert.equal(busy, 8, 'capacity doubled');
    const lineage = await allShards(client, 'busy', { Type: 'AT_LATEST' });
    assert.ok(
      lineage.every((s) => s.ParentShardId !== undefined),
      'new shards were split from the old ones',
    );
    assert.equal(await openShards('calm'), 4);
  });
});

describe('ON_DEMAND stream limit', () => {
  test('an account has at most 50 ON_DEMAND streams', async () => {
    const server = await startTestServer();
    const client = kinesisClient(server.port);
    try {
      for (let i = 0; i < 50; i++) {
        await client.send(
          new CreateStreamCommand({ StreamName: `od-${i}`, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }),
        );
      }
      await assert.rejects(
        client.send(
          new CreateStreamCommand({ StreamName: 'od-50', StreamModeDetails: { StreamMode: 'ON_DEMAND' } }),
        ),
        {
          name: 'LimitExceededException',
          message: `This request would exceed the limit of 50 ON_DEMAND streams for the account ${account} in us-east-1.`,
        },
      );
      await client.send(new CreateStreamCommand({ StreamName: 'prov', ShardCount: 1 }));
      await assert.rejects(
        client.send(
          new UpdateStreamModeCommand({
            StreamARN: `arn:aws:kinesis:us-east-1:${account}:stream/prov`,
            StreamModeDetails: { StreamMode: 'ON_DEMAND' },
          }),
        ),
        { name: 'LimitExceededException' },
      );
    } finally {
      client.destroy();
      await server.close();
    }
  });
});

describe('record distribution strategy (newest API)', () => {
  test('AUTO spreads records of one partition key over every shard of an ON_DEMAND stream', async () => {
    const server = await startTestServer();
    const client = kinesisClient(server.port);
    const arn = `arn:aws:kinesis:us-east-1:${account}:stream/auto`;
    try {
      await client.send(new CreateStreamCommand({ StreamName: 'prov-auto', ShardCount: 2 }));
      await assert.rejects(
        client.send(
          new UpdateStreamRecordDistributionStrategyCommand({
            StreamARN: `arn:aws:kinesis:us-east-1:${account}:stream/prov-auto`,
            RecordDistributionStrategy: 'AUTO',
          }),
        ),
        {
          name: 'InvalidArgumentException',
          message:
            'The record distribution strategy is only supported for streams in ON_DEMAND capacity mode.',
        },
      );
      await client.send(
        new CreateStreamCommand({ StreamName: 'auto', StreamModeDetails: { StreamMode: 'ON_DEMAND' } }),
      );
      const before = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'auto' }));
      assert.equal(before.StreamDescriptionSummary?.RecordDistributionStrategy, 'USER_PARTITION_KEY');
      const same = async () => {
        const out = await client.send(
          new PutRecordsCommand({
            StreamName: 'auto',
            Records: Array.from({ length: 200 }, () => ({ PartitionKey: 'one-key', Data: Buffer.from('x') })),
          }),
        );
        return new Set(out.Records?.map((r) => r.ShardId));
      };
      assert.equal((await same()).size, 1, 'by partition key: one shard');
      await client.send(
        new UpdateStreamRecordDistributionStrategyCommand({
          StreamARN: arn,
          RecordDistributionStrategy: 'AUTO',
        }),
      );
      assert.equal((await same()).size, 4, 'AUTO: every shard');
      const after = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'auto' }));
      assert.equal(after.StreamDescriptionSummary?.RecordDistributionStrategy, 'AUTO');
      await client.send(
        new CreateStreamCommand({ StreamName: 'big-records', ShardCount: 1, MaxRecordSizeInKiB: 2048 }),
      );
      const big = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'big-records' }));
      assert.equal(
        big.StreamDescriptionSummary?.MaxRecordSizeInKiB,
        2048,
        'CreateStream takes MaxRecordSizeInKiB',
      );
    } finally {
      client.destroy();
      await server.close();
    }
  });
});
