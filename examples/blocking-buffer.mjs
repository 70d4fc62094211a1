// A dependent that blocks its own callers, as Cognito's webservers did on 25 November 2020:
// request handlers put events into an in-process bounded buffer, and when the buffer is full the
// handlers wait for room. One flusher sends the buffer with PutRecords and, when a batch fails,
// tries the same batch again after a short fixed pause (no backoff). While Kinesis fails, the
// buffer fills, every handler blocks, and the flusher hammers the stream.
//
//   node examples/blocking-buffer.mjs --endpoint http://127.0.0.1:4567 --stream orders [--create]
//
// or from code: `const b = startBlockingBuffer({ endpoint, streamName }); ...; await b.stop()`.

import { pathToFileURL } from 'node:url';
import { CreateStreamCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';

/**
 * @param {{ endpoint: string, streamName: string, accessKeyId?: string, appId?: string,
 *   capacity?: number, callers?: number, callIntervalMs?: number, flushIntervalMs?: number,
 *   batchMax?: number, retryPauseMs?: number, requestTimeoutMs?: number }} options
 */
export function startBlockingBuffer(options) {
  const {
    endpoint,
    streamName,
    accessKeyId = 'AKIDBLOCKINGBUFFER',
    appId = 'blocking-buffer',
    capacity = 100,
    callers = 4,
    callIntervalMs = 25,
    flushIntervalMs = 200,
    batchMax = 50,
    retryPauseMs = 10,
    requestTimeoutMs = 2_000,
  } = options;
  const client = new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey: 'example' },
    maxAttempts: 1,
    userAgentAppId: appId,
  });
  /** @type {Array<{ caller: number, seq: number, at: number }>} */
  const buffer = [];
  /** @type {Array<{ event: { caller: number, seq: number, at: number }, resolve: () => void }>} */
  const waiting = [];
  const stats = {
    served: 0,
    blockedNow: 0,
    mostBlockedAtOnce: 0,
    longestBlockMs: 0,
    flushedRecords: 0,
    failedFlushes: 0,
    mostBuffered: 0,
  };
  let stopped = false;
  const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

  /** A request handler's call: returns at once while there is room, else waits for room. */
  const put = async (/** @type {{ caller: number, seq: number, at: number }} */ event) => {
    if (buffer.length < capacity) {
      buffer.push(event);
      stats.mostBuffered = Math.max(stats.mostBuffered, buffer.length);
      return;
    }
    const since = Date.now();
    stats.blockedNow++;
    stats.mostBlockedAtOnce = Math.max(stats.mostBlockedAtOnce, stats.blockedNow);
    await new Promise((resolve) => waiting.push({ event, resolve: () => resolve(undefined) }));
    stats.blockedNow--;
    stats.longestBlockMs = Math.max(stats.longestBlockMs, Date.now() - since);
  };
  /** Room was made: waiting handlers put their events in, oldest first. */
  const release = () => {
    while (waiting.length > 0 && (buffer.length < capacity || stopped)) {
      const next = waiting.shift();
      if (!next) break;
      buffer.push(next.event);
      next.resolve();
    }
  };

  const handlers = Array.from({ length: callers }, async (_, caller) => {
    for (let seq = 0; !stopped; seq++) {
      await put({ caller, seq, at: Date.now() });
      stats.served++;
      await sleep(callIntervalMs);
    }
  });

  const flusher = (async () => {
    while (!stopped) {
      if (buffer.length === 0) {
        await sleep(flushIntervalMs);
        continue;
      }
      let batch = buffer.splice(0, batchMax);
      release();
      while (batch.length > 0 && !stopped) {
        try {
          const out = await client.send(
            new PutRecordsCommand({
              StreamName: streamName,
              Records: batch.map((e) => ({
                PartitionKey: `caller-${e.caller}`,
                Data: Buffer.from(JSON.stringify(e)),
              })),
            }),
            { abortSignal: AbortSignal.timeout(requestTimeoutMs) },
          );
          const failed = batch.filter((_, i) => out.Records?.[i]?.ErrorCode !== undefined);
          stats.flushedRecords += batch.length - failed.length;
          batch = failed;
          if (failed.length > 0) await sleep(retryPauseMs);
        } catch {
          // The whole batch failed: the same batch again, after the same short pause.
          stats.failedFlushes++;
          await sleep(retryPauseMs);
        }
      }
      await sleep(flushIntervalMs);
    }
  })();

  return {
    stats,
    async stop() {
      stopped = true;
      release();
      await Promise.all([flusher, ...handlers]);
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
  const buffer = startBlockingBuffer({ endpoint, streamName });
  const timer = setInterval(() => console.log(JSON.stringify(buffer.stats)), 1_000);
  process.once('SIGINT', async () => {
    clearInterval(timer);
    console.log(JSON.stringify(await buffer.stop()));
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
