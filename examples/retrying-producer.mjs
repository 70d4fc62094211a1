// A well-behaved dependent: writes one record at a time with the AWS SDK's standard retry mode
// (a few attempts with jittered exponential backoff, under the SDK's retry quota), and when a
// record still fails, waits with capped exponential backoff and full jitter before trying the
// same record again. Nothing upstream of it waits on Kinesis.
//
//   node examples/retrying-producer.mjs --endpoint http://127.0.0.1:4567 --stream orders [--create]
//
// or from code: `const p = startRetryingProducer({ endpoint, streamName }); ...; await p.stop()`.

import { pathToFileURL } from 'node:url';
import { CreateStreamCommand, KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';

/**
 * @param {{ endpoint: string, streamName: string, accessKeyId?: string, appId?: string,
 *   intervalMs?: number, maxAttempts?: number, backoffBaseMs?: number, backoffCapMs?: number,
 *   requestTimeoutMs?: number }} options
 */
export function startRetryingProducer(options) {
  const {
    endpoint,
    streamName,
    accessKeyId = 'AKIDRETRYINGPRODUCER',
    appId = 'retrying-producer',
    intervalMs = 50,
    maxAttempts = 3,
    backoffBaseMs = 200,
    backoffCapMs = 2_000,
    requestTimeoutMs = 2_000,
  } = options;
  const client = new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey: 'example' },
    retryMode: 'standard',
    maxAttempts,
    userAgentAppId: appId,
  });
  const stats = { written: 0, failedRecords: 0, consecutiveFailures: 0, longestBackoffMs: 0 };
  let stopped = false;
  /** @type {(() => void) | undefined} */
  let wake;
  const sleep = (/** @type {number} */ ms) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve(undefined);
      };
    });

  const loop = (async () => {
    let seq = 0;
    while (!stopped) {
      try {
        await client.send(
          new PutRecordCommand({
            StreamName: streamName,
            PartitionKey: `key-${seq % 16}`,
            Data: Buffer.from(JSON.stringify({ seq, at: Date.now() })),
          }),
          { abortSignal: AbortSignal.timeout(requestTimeoutMs) },
        );
        stats.written++;
        stats.consecutiveFailures = 0;
        seq++;
        await sleep(intervalMs);
      } catch {
        // The SDK gave up on this record after its attempts: back off, then the same record again.
        stats.failedRecords++;
        stats.consecutiveFailures++;
        const ceiling = Math.min(backoffCapMs, backoffBaseMs * 2 ** stats.consecutiveFailures);
        const backoffMs = ceiling / 2 + (Math.random() * ceiling) / 2;
        stats.longestBackoffMs = Math.max(stats.longestBackoffMs, Math.round(backoffMs));
        if (!stopped) await sleep(backoffMs);
      }
    }
  })();

  return {
    stats,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      client.destroy();
      return stats;
    },
  };
}

async function main() {
  const args = process.argv.slice(2);
  const arg = (/** @type {string} */ name, /** @type {string | undefined} */ fallback) => {
    const i = args.indexOf(name);
    return i === -1 ? fallback : args[i + 1];
  };
  const endpoint = arg('--endpoint', 'http://127.0.0.1:4567') ?? '';
  const streamName = arg('--stream', 'orders') ?? '';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (args.includes('--create')) {
    const admin = new KinesisClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'example', secretAccessKey: 'example' },
    });
    await admin.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 })).catch(() => {});
    admin.destroy();
  }
  const producer = startRetryingProducer({ endpoint, streamName });
  const timer = setInterval(() => console.log(JSON.stringify(producer.stats)), 1_000);
  process.once('SIGINT', async () => {
    clearInterval(timer);
    console.log(JSON.stringify(await producer.stop()));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
