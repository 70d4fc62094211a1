/**
 * A fleet of two `sluice serve --store nats://` frontends coordinating only through the store
 * (AWS SDK v3): SubscribeToShard's 5-second rule and takeover hold across them, the per-shard write
 * limit holds for the fleet, the owner lease moves to the survivor when its holder is killed
 * (which then ends the transition the dead one left), and a frontend left alone gets the whole
 * limit again.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
  type SubscribeToShardCommandOutput,
} from '@aws-sdk/client-kinesis';
import type { Sluice } from '../src/app.js';
import { kinesisClient, sleep, startTestServer } from './helpers.js';
import { type NatsServers, startFrontend, startNats, stopFrontend } from './nats-helpers.js';

/** Per-shard write limit given to both frontends (records/s): low, so the test is short. */
const limit = 200;
/** How long a stream or consumer stays CREATING on both frontends. */
const creatingMs = 3_000;

interface Frontend {
  child: ChildProcess;
  port: number;
  client: KinesisClient;
  /** Everything it logged after it started listening. */
  log: string;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function status(client: KinesisClient, name: string): Promise<string | undefined> {
  try {
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    return out.StreamDescriptionSummary?.StreamStatus;
  } catch {
    return undefined;
  }
}

/** PutRecords of `count` records to the stream's only shard; resolves to how many were accepted. */
async function putBatch(client: KinesisClient, stream: string, count: number): Promise<number> {
  const out = await client.send(
    new PutRecordsCommand({
      StreamName: stream,
      Records: Array.from({ length: count }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.from('x') })),
    }),
  );
  return count - (out.FailedRecordCount ?? 0);
}

describe('a fleet of two frontends over NATS (AWS SDK v3)', { timeout: 240_000 }, () => {
  let nats: NatsServers;
  let a: Frontend;
  let b: Frontend;
  const started: Frontend[] = [];

  async function frontend(): Promise<Frontend> {
    const { child, port } = await startFrontend(nats.storeUrl, [
      '--create-stream-ms',
      String(creatingMs),
      '--throughput',
      'aws',
      '--shard-write-records-per-sec',
      String(limit),
    ]);
    const f: Frontend = { child, port, client: kinesisClient(port), log: '' };
    child.stderr?.on('data', (chunk: Buffer) => {
      f.log += chunk.toString();
    });
    started.push(f);
    return f;
  }

  before(async () => {
    nats = await startNats();
    // a starts first, so it holds the owner lease.
    a = await frontend();
    b = await frontend();
    await until(() => a.log.includes('fleet: 2 frontends alive'), 'a to count two frontends');
  });
  after(async () => {
    for (const f of started) f.client.destroy();
    await Promise.all(started.map((f) => stopFrontend(f.child)));
    await nats?.stop();
  });

  test('SubscribeToShard: the 5-second rule and the takeover hold across frontends', async () => {
    await a.client.send(new CreateStreamCommand({ StreamName: 'fan', ShardCount: 1 }));
    await until(async () => (await status(b.client, 'fan')) === 'ACTIVE', 'fan to be ACTIVE');
    const { Consumer } = await b.client.send(
      new RegisterStreamConsumerCommand({
        StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/fan',
        ConsumerName: 'app',
      }),
    );
    const ConsumerARN = Consumer?.ConsumerARN as string;
    await until(async () => {
      const out = await a.client.send(new DescribeStreamConsumerCommand({ ConsumerARN }));
      return out.ConsumerDescription?.ConsumerStatus === 'ACTIVE';
    }, 'the consumer to be ACTIVE');
    const input = {
      ConsumerARN,
      ShardId: 'shardId-000000000000',
      StartingPosition: { Type: 'LATEST' as const },
    };

    const controllers: AbortController[] = [];
    const subscribe = (f: Frontend): Promise<SubscribeToShardCommandOutput> => {
      const controller = new AbortController();
      controllers.push(controller);
      return f.client.send(new SubscribeToShardCommand(input), { abortSignal: controller.signal });
    };
    try {
      const first = await subscribe(a);
      const startedMs = Date.now();
      // Read the first subscription in the background until it ends.
      const firstEnd = (async () => {
        try {
          for await (const _event of first.EventStream ?? []) {
            // events until it is taken over
          }
          return 'ended without an exception';
        } catch (error) {
          return (error as Error).name;
        }
      })();
      // Within 5 seconds, through the other frontend: refused as the service words it.
      await assert.rejects(subscribe(b), {
        name: 'ResourceInUseException',
        message:
          /^Another active subscription exists for this consumer: 000000000000:fan:shardId-000000000000:app$/,
      });
      // And through the same one.
      await assert.rejects(subscribe(a), { name: 'ResourceInUseException' });

      // After 5 seconds a new subscription (through b) takes over, and the one on a ends.
      await sleep(Math.max(0, 5_500 - (Date.now() - startedMs)));
      const second = await subscribe(b);
      assert.equal(
        await firstEnd,
        'ResourceInUseException',
        'the older subscription ends, on the other frontend',
      );
      // The new subscription gets what is written through the other frontend.
      await a.client.send(
        new PutRecordsCommand({
          StreamName: 'fan',
          Records: [{ PartitionKey: 'p', Data: Buffer.from('hello') }],
        }),
      );
      const data: string[] = [];
      for await (const event of second.EventStream ?? []) {
        for (const r of event.SubscribeToShardEvent?.Records ?? [])
          data.push(Buffer.from(r.Data ?? []).toString());
        if (data.length > 0) break;
      }
      assert.deepEqual(data, ['hello']);
    } finally {
      for (const c of controllers) c.abort();
    }
  });

  test('the per-shard write limit holds for the fleet, not per frontend', async () => {
    await a.client.send(new CreateStreamCommand({ StreamName: 'limited', ShardCount: 1 }));
    await until(async () => (await status(a.client, 'limited')) === 'ACTIVE', 'limited to be ACTIVE');
    await until(async () => (await status(b.client, 'limited')) === 'ACTIVE', 'b to see it');
    // Both frontends write to the one shard as fast as they can, for a bounded number of calls.
    let accepted = 0;
    const t0 = Date.now();
    for (let round = 0; round < 200 && Date.now() - t0 < 3_000; round++) {
      const counts = await Promise.all([
        putBatch(a.client, 'limited', 50),
        putBatch(b.client, 'limited', 50),
      ]);
      accepted += counts[0] + counts[1];
    }
    const seconds = (Date.now() - t0) / 1000;
    // Each frontend holds half of the limit and half a second of burst.
    assert.ok(
      accepted <= limit * seconds + limit,
      `${accepted} records accepted in ${seconds} s through two frontends (limit ${limit}/s + 1 s of burst)`,
    );
    assert.ok(accepted > 0);
    // One frontend's burst after a rest is its share (half a second of the limit), not the whole.
    await sleep(1_500);
    const burst =
      (await putBatch(a.client, 'limited', limit / 2)) + (await putBatch(a.client, 'limited', limit / 2));
    assert.ok(burst < limit, `a frontend of two accepted ${burst} of ${limit} records at once`);
  });

  test('the owner is killed while a stream is CREATING: the other frontend ends it after the lease expires', async (t) => {
    assert.ok(!b.log.includes('holds the owner lease'), 'b is not the owner yet');
    await a.client.send(new CreateStreamCommand({ StreamName: 'orphaned', ShardCount: 1 }));
    a.child.kill('SIGKILL');
    const killedMs = Date.now();
    // Still CREATING once b knows it: a died before ending it (and nobody else may).
    let seen: string | undefined;
    await until(async () => {
      seen = await status(b.client, 'orphaned');
      return seen !== undefined;
    }, 'b to see the stream');
    assert.equal(seen, 'CREATING');
    await until(async () => (await status(b.client, 'orphaned')) === 'ACTIVE', 'b to end CREATING', 60_000);
    t.diagnostic(`ACTIVE through the survivor ${Date.now() - killedMs} ms after the owner was killed`);
    assert.match(b.log, /fleet: this frontend holds the owner lease/);
  });

  test('a frontend left alone gets the whole limit again', async () => {
    await until(() => b.log.includes('fleet: 1 frontends alive'), 'b to count itself alone');
    await sleep(1_500);
    const burst =
      (await putBatch(b.client, 'limited', limit / 2)) + (await putBatch(b.client, 'limited', limit / 2));
    assert.equal(burst, limit, 'the whole second of burst');
  });
});

describe('ON_DEMAND scaling in a fleet: the owner decides on every frontend’s writes', {
  timeout: 120_000,
}, () => {
  let nats: NatsServers;
  const servers: Sluice[] = [];
  const clients: KinesisClient[] = [];
  before(async () => {
    nats = await startNats();
    // Tiny per-shard capacity and a 2 s window, as in the single-process test (resharding.test.ts).
    const onDemand = {
      windowMs: 2_000,
      checkMs: 200,
      shardBytesPerSec: 1e9,
      shardRecordsPerSec: 10,
      scaleUpAt: 0.5,
    };
    for (let i = 0; i < 2; i++) {
      const server = await startTestServer({ natsUrl: nats.storeUrl, engine: { onDemand } });
      servers.push(server);
      clients.push(kinesisClient(server.port));
    }
  });
  after(async () => {
    for (const c of clients) c.destroy();
    for (const s of servers) await s.close();
    await nats?.stop();
  });

  test('writes through a frontend that is not the owner double the shards', async () => {
    const [owner, other] = clients as [KinesisClient, KinesisClient];
    await owner.send(
      new CreateStreamCommand({ StreamName: 'od', StreamModeDetails: { StreamMode: 'ON_DEMAND' } }),
    );
    await until(async () => (await status(other, 'od')) === 'ACTIVE', 'od to be ACTIVE');
    const open = async () =>
      (await owner.send(new DescribeStreamSummaryCommand({ StreamName: 'od' }))).StreamDescriptionSummary
        ?.OpenShardCount;
    assert.equal(await open(), 4);
    // Only `other` writes: 200 records in 2 s, five times the 4 shards' 40 records/s.
    for (let i = 0; i < 10; i++) {
      await other.send(
        new PutRecordsCommand({
          StreamName: 'od',
          Records: Array.from({ length: 20 }, (_, k) => ({
            PartitionKey: `k${i}-${k}`,
            Data: Buffer.from('x'),
          })),
        }),
      );
      await sleep(200);
    }
    await until(async () => (await open()) === 8, 'the owner to double the shards', 20_000);
  });
});
