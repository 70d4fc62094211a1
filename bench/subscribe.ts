/**
 * SubscribeToShard put-to-event latency (enhanced fan-out), forked by bench/run.ts against a
 * Sluice: registers a consumer, subscribes to a one-shard stream with the AWS SDK v3 (its default
 * HTTP/2 handler), puts records one at a time at a fixed rate with the send time in the data
 * (hand-signed HTTP/1.1 PutRecord, same process, same clock), and reports the distribution of
 * event receive time minus put send time.
 */
import {
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { KinesisHttp, sleep } from './client.js';
import { type LatencySummary, summarize } from './stats.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface SubscribeSpec {
  url: string;
  /** Put through this frontend instead (cluster mode: a subscriber on another frontend). */
  putUrl?: string;
  seconds: number;
  ratePerSec: number;
}

export interface SubscribeResult {
  sent: number;
  received: number;
  events: number;
  putToEvent: LatencySummary;
  putAck: LatencySummary;
  notes: string[];
}

const now = () => performance.timeOrigin + performance.now();

async function probe(spec: SubscribeSpec): Promise<SubscribeResult> {
  const client = new KinesisClient({
    endpoint: spec.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' },
    maxAttempts: 1,
  });
  const http = new KinesisHttp(spec.putUrl ?? spec.url, 1);
  const stream = `fanout-${Date.now()}`;
  const notes: string[] = [];
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  for (;;) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
    await sleep(20);
  }
  const streamArn = `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`;
  const { Consumer } = await client.send(
    new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'bench' }),
  );
  const consumerArn = Consumer?.ConsumerARN as string;
  for (;;) {
    const d = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn }));
    if (d.ConsumerDescription?.ConsumerStatus === 'ACTIVE') break;
    await sleep(20);
  }

  const controller = new AbortController();
  const latencies: number[] = [];
  let received = 0;
  let events = 0;
  const out = await client.send(
    new SubscribeToShardCommand({
      ConsumerARN: consumerArn,
      ShardId: 'shardId-000000000000',
      StartingPosition: { Type: 'LATEST' },
    }),
    { abortSignal: controller.signal },
  );
  const reading = (async () => {
    try {
      for await (const event of out.EventStream ?? []) {
        const at = now();
        const records = event.SubscribeToShardEvent?.Records ?? [];
        events++;
        for (const record of records) {
          const sentAt = Number(Buffer.from(record.Data ?? []).toString('utf8'));
          latencies.push(at - sentAt);
          received++;
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) notes.push(`subscription ended: ${String(error)}`);
    }
  })();
  // Let the subscription settle (its first event) before measuring.
  await sleep(200);

  const acks: number[] = [];
  const interval = 1000 / spec.ratePerSec;
  const total = Math.round(spec.seconds * spec.ratePerSec);
  const start = performance.now();
  let sent = 0;
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const t = now();
    const body = JSON.stringify({
      StreamName: stream,
      PartitionKey: `k${i}`,
      Data: Buffer.from(t.toFixed(3)).toString('base64'),
    });
    const reply = await http.call('PutRecord', body);
    acks.push(now() - t);
    if (reply.status !== 200)
      notes.push(`PutRecord answered ${reply.status}: ${reply.body.toString().slice(0, 200)}`);
    else sent++;
  }
  const deadline = performance.now() + 5_000;
  while (received < sent && performance.now() < deadline) await sleep(10);
  if (received < sent) notes.push(`${sent - received} of ${sent} records had no event within 5 s`);
  controller.abort();
  await Promise.race([reading, sleep(1000)]);
  client.destroy();
  http.close();
  return { sent, received, events, putToEvent: summarize(latencies), putAck: summarize(acks), notes };
}

process.on('message', (spec: SubscribeSpec) => {
  probe(spec).then(
    (result) => {
      process.send?.({ type: 'result', result });
      setTimeout(() => process.exit(0), 50);
    },
    (error: unknown) => {
      process.send?.({
        type: 'error',
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
      setTimeout(() => process.exit(1), 50);
    },
  );
});
process.on('disconnect', () => process.exit(2));
