/**
 * A first, small throughput probe: PutRecords of 500 x 1 KiB records from N concurrent callers
 * over keep-alive HTTP/1.1, for a bounded time, against a Sluice started in this process (or at
 * --url), with the per-shard throughput limits off. The load shares this process with the server:
 * for numbers to compare, use the harness (`npm run bench`, bench/run.ts), which runs Sluice, its
 * peers and the no-op server each in their own process.
 *
 *   node dist/bench/putrecords.js [--callers 16] [--seconds 5] [--url http://127.0.0.1:4567]
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { startSluice } from '../src/app.js';

const { values } = parseArgs({
  options: {
    callers: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '5' },
    url: { type: 'string' },
    fsync: { type: 'boolean', default: false },
  },
});
const callers = Number(values.callers);
const seconds = Math.min(Number(values.seconds), 60);

const local = values.url
  ? undefined
  : await startSluice({
      host: '127.0.0.1',
      port: 0,
      dataDir: `${process.env.TMPDIR ?? '/tmp'}/sluice-bench-${process.pid}`,
      memory: false,
      fsync: values.fsync,
      engine: { createStreamMs: 0, deleteStreamMs: 0, throughput: undefined },
    });
const url = new URL(values.url ?? `http://127.0.0.1:${local?.port}`);
const agent = new http.Agent({ keepAlive: true, maxSockets: callers });

function call(target: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        path: '/',
        agent,
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': `Kinesis_20131202.${target}`,
          authorization:
            'AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0',
          'x-amz-date': '20260101T000000Z',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const stream = `bench-${Date.now()}`;
await call('CreateStream', JSON.stringify({ StreamName: stream, ShardCount: 4 }));
const data = Buffer.alloc(1024, 7).toString('base64');
const body = JSON.stringify({
  StreamName: stream,
  Records: Array.from({ length: 500 }, (_, i) => ({ PartitionKey: `pk-${i}`, Data: data })),
});

const latencies: number[] = [];
let records = 0;
const deadline = Date.now() + seconds * 1000;
await Promise.all(
  Array.from({ length: callers }, async () => {
    while (Date.now() < deadline) {
      const start = performance.now();
      const res = await call('PutRecords', body);
      latencies.push(performance.now() - start);
      if (res.status !== 200) throw new Error(`PutRecords answered ${res.status}: ${res.text.slice(0, 200)}`);
      records += 500 - Number(/"FailedRecordCount":(\d+)/.exec(res.text)?.[1] ?? 0);
    }
  }),
);
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]?.toFixed(1);
console.log(
  `PutRecords 500 x 1 KiB, ${callers} callers, ${seconds} s: ${Math.round(records / seconds)} records/s, ` +
    `${((records * 1024) / seconds / 1048576).toFixed(1)} MiB/s, p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, ` +
    `server RSS ${local ? Math.round(process.memoryUsage().rss / 1048576) : '?'} MiB (in process with the load)`,
);
agent.destroy();
await local?.close();
