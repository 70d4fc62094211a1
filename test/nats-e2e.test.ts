/**
 * End to end over NATS: two `sluice serve --store nats://...` processes (two stateless frontends)
 * driven by the AWS SDK v3: a stream created through one is served by the other, records put
 * through either are read through either, and a split shard is read across. Once over a single
 * nats-server with one client per frontend, and once over a 3-node cluster (R3) with every
 * request alternating between the two frontends (each frontend given a different node).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type DescribeStreamSummaryCommandOutput,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  type Shard,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { kinesisClient, sleep } from './helpers.js';
import {
  type NatsServers,
  startFrontend,
  startNats,
  startNatsCluster,
  stopFrontend,
} from './nats-helpers.js';

interface Read {
  data: string;
  seq: string;
  shardId: string;
}

/** Every record of every shard, each shard read from TRIM_HORIZON until it ends or is drained. */
async function readAll(client: KinesisClient, stream: string): Promise<{ records: Read[]; shards: Shard[] }> {
  const { Shards = [] } = await client.send(new ListShardsCommand({ StreamName: stream }));
  const records: Read[] = [];
  for (const shard of Shards) {
    const shardId = shard.ShardId ?? '';
    let { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    let previous = -1n;
    for (let calls = 0; calls < 100 && ShardIterator; calls++) {
      const out = await client.send(new GetRecordsCommand({ ShardIterator, Limit: 70 }));
      for (const r of out.Records ?? []) {
        const seq = BigInt(r.SequenceNumber ?? '0');
        assert.ok(seq > previous, `sequence numbers increase in ${shardId}`);
        previous = seq;
        records.push({ data: Buffer.from(r.Data ?? []).toString(), seq: r.SequenceNumber ?? '', shardId });
      }
      if ((out.Records ?? []).length === 0 && out.MillisBehindLatest === 0) break;
      ShardIterator = out.NextShardIterator;
    }
  }
  return { records, shards: Shards };
}

async function put(client: KinesisClient, stream: string, tag: string, count: number) {
  const Records = Array.from({ length: count }, (_, i) => ({
    PartitionKey: `${tag}-${i}`,
    Data: Buffer.from(`${tag}-${i}`),
  }));
  const out = await client.send(new PutRecordsCommand({ StreamName: stream, Records }));
  assert.equal(out.FailedRecordCount, 0);
  return (out.Records ?? []).map((r, i) => ({
    data: `${tag}-${i}`,
    seq: r.SequenceNumber ?? '',
    shardId: r.ShardId ?? '',
  }));
}

/** One client whose requests go to each of `clients` in turn. */
function alternating(clients: KinesisClient[]): KinesisClient {
  let next = 0;
  const send = (command: never) => (clients[next++ % clients.length] as KinesisClient).send(command);
  return { send } as unknown as KinesisClient;
}

const setups = [
  {
    name: 'two sluice frontends over one nats-server (AWS SDK v3)',
    servers: () => startNats(),
    /** Both frontends know the one server. */
    urls: (nats: NatsServers) => [nats.storeUrl, nats.storeUrl],
    alternate: false,
  },
  {
    name: 'two sluice frontends over a 3-node NATS cluster, requests alternating (AWS SDK v3)',
    servers: () => startNatsCluster(3),
    /** Each frontend knows a different node (it learns the others from it). */
    urls: (nats: NatsServers) => nats.servers.slice(0, 2).map((s) => `nats://${s}`),
    alternate: true,
  },
];

for (const setup of setups) {
  describe(setup.name, { timeout: 180_000 }, () => {
    let nats: NatsServers;
    const frontends: Array<{ child: ChildProcess; port: number }> = [];
    const clients: KinesisClient[] = [];
    let one: KinesisClient;
    let two: KinesisClient;

    before(async () => {
      nats = await setup.servers();
      const [a, b] = setup.urls(nats);
      frontends.push(await startFrontend(a as string), await startFrontend(b as string));
      clients.push(
        kinesisClient((frontends[0] as { port: number }).port),
        kinesisClient((frontends[1] as { port: number }).port, { http1: true }),
      );
      // Alternating: `one` and `two` are the same client, each request going to the other frontend.
      const alternate = alternating(clients);
      [one, two] = setup.alternate ? [alternate, alternate] : (clients as [KinesisClient, KinesisClient]);
    });
    after(async () => {
      for (const client of clients) client.destroy();
      await Promise.all(frontends.map((f) => stopFrontend(f.child)));
      await nats?.stop();
    });

    test('create, put, read back, split a shard and read across it, through either frontend', async () => {
      await one.send(new CreateStreamCommand({ StreamName: 'e2e', ShardCount: 2 }));
      // Created through one, served by the other (its map follows the store's log): as a client
      // behind a load balancer, wait until two describes in a row succeed (with requests
      // alternating, one through each frontend).
      let summary: DescribeStreamSummaryCommandOutput | undefined;
      for (let i = 0, inRow = 0; i < 100 && inRow < 2; i++) {
        try {
          summary = await two.send(new DescribeStreamSummaryCommand({ StreamName: 'e2e' }));
          inRow++;
        } catch {
          inRow = 0;
          await sleep(20);
        }
      }
      assert.equal(summary?.StreamDescriptionSummary?.StreamStatus, 'ACTIVE');
      assert.equal(summary?.StreamDescriptionSummary?.OpenShardCount, 2);

      const acked = [...(await put(one, 'e2e', 'one', 100)), ...(await put(two, 'e2e', 'two', 100))];
      for (const client of [one, two]) {
        const { records } = await readAll(client, 'e2e');
        assert.equal(records.length, 200);
        const bySeq = new Map(records.map((r) => [r.data, r]));
        for (const a of acked) {
          assert.equal(bySeq.get(a.data)?.seq, a.seq, `${a.data} read with its acknowledged sequence number`);
          assert.equal(bySeq.get(a.data)?.shardId, a.shardId);
        }
      }

      // Split shard 0 at the middle of its range through one; write through two at once.
      const { Shards = [] } = await one.send(new ListShardsCommand({ StreamName: 'e2e' }));
      const first = Shards[0];
      const start = BigInt(first?.HashKeyRange?.StartingHashKey ?? '0');
      const end = BigInt(first?.HashKeyRange?.EndingHashKey ?? '0');
      const writes = put(two, 'e2e', 'during', 50);
      await one.send(
        new SplitShardCommand({
          StreamName: 'e2e',
          ShardToSplit: first?.ShardId,
          NewStartingHashKey: ((start + end) / 2n).toString(),
        }),
      );
      acked.push(...(await writes));
      acked.push(...(await put(two, 'e2e', 'after', 100)));
      // The split shows through both frontends (two listings in a row with the children).
      for (let i = 0, inRow = 0; i < 100 && inRow < 2; i++) {
        const { Shards: now = [] } = await two.send(new ListShardsCommand({ StreamName: 'e2e' }));
        inRow = now.length === 4 ? inRow + 1 : 0;
        if (inRow === 0) await sleep(20);
      }

      for (const client of [two, one]) {
        const { records, shards } = await readAll(client, 'e2e');
        assert.deepEqual(
          shards.map((s) => s.ShardId),
          ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002', 'shardId-000000000003'],
        );
        assert.ok(shards[0]?.SequenceNumberRange?.EndingSequenceNumber, 'the parent is closed');
        const count = new Map<string, number>();
        for (const r of records) count.set(r.data, (count.get(r.data) ?? 0) + 1);
        for (const a of acked) assert.equal(count.get(a.data), 1, `${a.data} stored once`);
        assert.equal(records.length, acked.length);
        const bySeq = new Map(records.map((r) => [r.data, r]));
        for (const a of acked) assert.equal(bySeq.get(a.data)?.seq, a.seq);
        // Nothing routed after the split landed in the parent.
        for (const r of records.filter((x) => x.data.startsWith('after-')))
          assert.notEqual(r.shardId, 'shardId-000000000000');
      }
    });
  });
}
