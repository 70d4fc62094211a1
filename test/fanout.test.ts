import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListStreamConsumersCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  SubscribeToShardCommand,
  type SubscribeToShardEvent,
} from '@aws-sdk/client-kinesis';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { subscriptionStats } from '../src/api/subscribe.js';
import type { Sluice } from '../src/app.js';
import { kinesisClient, sleep, startTestServer } from './helpers.js';

const account = '000000000000';
const arnOf = (name: string) => `arn:aws:kinesis:us-east-1:${account}:stream/${name}`;

/** Collect SubscribeToShard events until `stop` says so or the time runs out. */
async function collect(
  client: KinesisClient,
  input: ConstructorParameters<typeof SubscribeToShardCommand>[0],
  stop: (events: SubscribeToShardEvent[]) => boolean,
  timeoutMs = 10_000,
): Promise<SubscribeToShardEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: SubscribeToShardEvent[] = [];
  try {
    const out = await client.send(new SubscribeToShardCommand(input), { abortSignal: controller.signal });
    for await (const event of out.EventStream ?? []) {
      if (event.SubscribeToShardEvent) events.push(event.SubscribeToShardEvent);
      if (stop(events)) break;
    }
  } finally {
    clearTimeout(timer);
    controller.abort(); // end the subscription on the server too
  }
  return events;
}

const dataOf = (events: SubscribeToShardEvent[]) =>
  events.flatMap((e) => (e.Records ?? []).map((r) => Buffer.from(r.Data ?? []).toString()));

describe('enhanced fan-out consumers', () => {
  let server: Sluice;
  let client: KinesisClient;
  before(async () => {
    server = await startTestServer({ engine: { createStreamMs: 0, deleteStreamMs: 0 } });
    client = kinesisClient(server.port);
    await client.send(new CreateStreamCommand({ StreamName: 'fan', ShardCount: 2 }));
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('register, describe, list and deregister consumers, with the service limits', async () => {
    const { Consumer } = await client.send(
      new RegisterStreamConsumerCommand({ StreamARN: arnOf('fan'), ConsumerName: 'app-1' }),
    );
    assert.equal(Consumer?.ConsumerStatus, 'ACTIVE');
    assert.match(
      Consumer?.ConsumerARN ?? '',
      /^arn:aws:kinesis:us-east-1:000000000000:stream\/fan\/consumer\/app-1:\d{10}$/,
    );
    const byArn = await client.send(
      new DescribeStreamConsumerCommand({ ConsumerARN: Consumer?.ConsumerARN }),
    );
    assert.equal(byArn.ConsumerDescription?.StreamARN, arnOf('fan'));
    const byName = await client.send(
      new DescribeStreamConsumerCommand({ StreamARN: arnOf('fan'), ConsumerName: 'app-1' }),
    );
    assert.equal(byName.ConsumerDescription?.ConsumerARN, Consumer?.ConsumerARN);
    await assert.rejects(
      client.send(new RegisterStreamConsumerCommand({ StreamARN: arnOf('fan'), ConsumerName: 'app-1' })),
      { name: 'ResourceInUseException' },
    );
    for (let i = 2; i <= 20; i++) {
      await client.send(
        new RegisterStreamConsumerCommand({ StreamARN: arnOf('fan'), ConsumerName: `app-${i}` }),
      );
    }
    await assert.rejects(
      client.send(new RegisterStreamConsumerCommand({ StreamARN: arnOf('fan'), ConsumerName: 'app-21' })),
      { name: 'LimitExceededException' },
    );
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'fan' }));
    assert.equal(summary.StreamDescriptionSummary?.ConsumerCount, 20);
    const page1 = await client.send(
      new ListStreamConsumersCommand({ StreamARN: arnOf('fan'), MaxResults: 15 }),
    );
    assert.equal(page1.Consumers?.length, 15);
    const page2 = await client.send(
      new ListStreamConsumersCommand({ StreamARN: arnOf('fan'), NextToken: page1.NextToken }),
    );
    assert.equal(page2.Consumers?.length, 5);
    assert.equal(page2.NextToken, undefined);
    for (let i = 2; i <= 20; i++) {
      await client.send(
        new DeregisterStreamConsumerCommand({ StreamARN: arnOf('fan'), ConsumerName: `app-${i}` }),
      );
    }
    await assert.rejects(
      client.send(new DescribeStreamConsumerCommand({ StreamARN: arnOf('fan'), ConsumerName: 'app-2' })),
      {
        name: 'ResourceNotFoundException',
        message: `Consumer app-2 under stream fan and account ${account} not found.`,
      },
    );
  });

  test('DeleteStream refuses a stream with consumers unless told to delete them', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'doomed', ShardCount: 1 }));
    await client.send(new RegisterStreamConsumerCommand({ StreamARN: arnOf('doomed'), ConsumerName: 'c' }));
    await assert.rejects(client.send(new DeleteStreamCommand({ StreamName: 'doomed' })), {
      name: 'ResourceInUseException',
      message: `DeleteStream can't delete ${arnOf('doomed')} because there are consumers associated with this data stream. To delete doomed anyway, set the EnforceConsumerDeletion parameter to true to force the deletion of all the consumers that are associated with it.`,
    });
    await client.send(new DeleteStreamCommand({ StreamName: 'doomed', EnforceConsumerDeletion: true }));
  });

  test('SubscribeToShard over HTTP/2 pushes records as they are written, then continues without gaps', async () => {
    const { Consumer } = await client
      .send(new DescribeStreamConsumerCommand({ StreamARN: arnOf('fan'), ConsumerName: 'app-1' }))
      .then((d) => ({ Consumer: d.ConsumerDescription }));
    const arn = Consumer?.ConsumerARN ?? '';
    const put = (data: string) =>
      client.send(
        new PutRecordCommand({
          StreamName: 'fan',
          PartitionKey: 'p',
          ExplicitHashKey: '0',
          Data: Buffer.from(data),
        }),
      );
    await put('one');
    const later = setTimeout(() => void put('two'), 300);
    const events = await collect(
      client,
      { ConsumerARN: arn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'TRIM_HORIZON' } },
      (es) => dataOf(es).length >= 2,
    );
    clearTimeout(later);
    assert.deepEqual(dataOf(events), ['one', 'two']);
    for (const e of events) assert.ok(e.ContinuationSequenceNumber, 'every event carries a continuation');
    const continuation = events[events.length - 1]?.ContinuationSequenceNumber;

    await assert.rejects(
      collect(
        client,
        { ConsumerARN: arn, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'LATEST' } },
        () => true,
      ),
      { name: 'ResourceInUseException', message: /^Another active subscription exists for this consumer/ },
      'a second subscription within 5 seconds is refused',
    );
    await sleep(5_100);
    await put('three');
    const resumed = await collect(
      client,
      {
        ConsumerARN: arn,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: continuation },
      },
      (es) => dataOf(es).length >= 1,
    );
    assert.deepEqual(dataOf(resumed), ['three']);
  });

  test('an idle subscription still gets events with a continuation; LATEST and AT_TIMESTAMP start where they say', async () => {
    const { Consumer } = await client.send(
      new RegisterStreamConsumerCommand({ StreamARN: arnOf('fan'), ConsumerName: 'idle' }),
    );
    const before = new Date();
    const idle = await collect(
      client,
      {
        ConsumerARN: Consumer?.ConsumerARN,
        ShardId: 'shardId-000000000001',
        StartingPosition: { Type: 'LATEST' },
      },
      (es) => es.length >= 2,
    );
    assert.deepEqual(dataOf(idle), []);
    assert.ok(idle.every((e) => e.ContinuationSequenceNumber && e.MillisBehindLatest === 0));
    await client.send(
      new PutRecordCommand({
        StreamName: 'fan',
        PartitionKey: 'p',
        ExplicitHashKey: ((1n << 128n) - 1n).toString(),
        Data: Buffer.from('late'),
      }),
    );
    await sleep(5_100);
    const fromIdle = await collect(
      client,
      {
        ConsumerARN: Consumer?.ConsumerARN,
        ShardId: 'shardId-000000000001',
        StartingPosition: {
          Type: 'AFTER_SEQUENCE_NUMBER',
          SequenceNumber: idle[0]?.ContinuationSequenceNumber,
        },
      },
      (es) => dataOf(es).length >= 1,
    );
    assert.deepEqual(dataOf(fromIdle), ['late'], 'the continuation of an idle subscription misses nothing');
    await sleep(5_100);
    const atTime = await collect(
      client,
      {
        ConsumerARN: Consumer?.ConsumerARN,
        ShardId: 'shardId-000000000001',
        StartingPosition: { Type: 'AT_TIMESTAMP', Timestamp: before },
      },
      (es) => dataOf(es).length >= 1,
    );
    assert.deepEqual(dataOf(atTime), ['late']);
  });

  test('a resharding ends the subscription with ChildShards', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'reshard', ShardCount: 1 }));
    const { Consumer } = await client.send(
      new RegisterStreamConsumerCommand({ StreamARN: arnOf('reshard'), ConsumerName: 'kcl' }),
    );
    await client.send(
      new PutRecordCommand({ StreamName: 'reshard', PartitionKey: 'p', Data: Buffer.from('parent') }),
    );
    setTimeout(() => {
      void client.send(
        new SplitShardCommand({
          StreamName: 'reshard',
          ShardToSplit: 'shardId-000000000000',
          NewStartingHashKey: (1n << 127n).toString(),
        }),
      );
    }, 300);
    const events = await collect(
      client,
      {
        ConsumerARN: Consumer?.ConsumerARN,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'TRIM_HORIZON' },
      },
      (es) => es.some((e) => (e.ChildShards ?? []).length > 0),
    );
    assert.deepEqual(dataOf(events), ['parent']);
    const last = events[events.length - 1];
    assert.deepEqual(
      last?.ChildShards?.map((c) => [c.ShardId, c.ParentShards]),
      [
        ['shardId-000000000001', ['shardId-000000000000']],
        ['shardId-000000000002', ['shardId-000000000000']],
      ],
    );
  });

  test('a subscriber that stops reading is held back by HTTP/2 flow control, not buffered', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'flood', ShardCount: 1 }));
    const { Consumer } = await client.send(
      new RegisterStreamConsumerCommand({ StreamARN: arnOf('flood'), ConsumerName: 'slow' }),
    );
    const big = Buffer.alloc(100 * 1024, 1);
    for (let batch = 0; batch < 10; batch++) {
      await client.send(
        new PutRecordsCommand({
          StreamName: 'flood',
          Records: Array.from({ length: 30 }, (_, i) => ({ PartitionKey: `k${i}`, Data: big })),
        }),
      );
    } // 30 MiB waiting in the shard
    const activeBefore = subscriptionStats(server.engine).active;
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    const req = session.request({
      ':method': 'POST',
      ':path': '/',
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'Kinesis_20131202.SubscribeToShard',
      authorization: 'AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=c',
      'x-amz-date': '20260101T000000Z',
    });
    req.end(
      JSON.stringify({
        ConsumerARN: Consumer?.ConsumerARN,
        ShardId: 'shardId-000000000000',
        StartingPosition: { Type: 'TRIM_HORIZON' },
      }),
    );
    req.pause(); // read nothing
    try {
      await sleep(2_000);
      const stats = subscriptionStats(server.engine);
      assert.equal(stats.active, activeBefore + 1);
      assert.ok(
        stats.bufferedBytes <= 5 * 1024 * 1024,
        `buffered ${stats.bufferedBytes} bytes for a client that reads nothing`,
      );
      // Now read: everything arrives, in order, through the same subscription.
      const codec = new EventStreamCodec(toUtf8, fromUtf8);
      let pending = Buffer.alloc(0);
      let records = 0;
      req.resume();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${records} of 300 records arrived`)), 20_000);
        req.on('data', (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 4 && pending.length >= pending.readUInt32BE(0)) {
            const size = pending.readUInt32BE(0);
            const message = codec.decode(pending.subarray(0, size));
            pending = pending.subarray(size);
            if (message.headers[':event-type']?.value === 'SubscribeToShardEvent') {
              records += (JSON.parse(Buffer.from(message.body).toString()).Records ?? []).length;
            }
          }
          if (records >= 300) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      assert.equal(records, 300);
    } finally {
      req.close();
      session.close();
    }
  });
});
