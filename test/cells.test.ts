/**
 * Cells (src/engine/cells.ts): two `sluice serve --cell` frontends over one 3-node NATS cluster
 * whose servers are tagged `cell:a` and `cell:b` (placement=cell), driven by the AWS SDK v3. Each
 * frontend serves only its cell's streams; a request for a stream of the other cell, named any
 * way (name, ARN, StreamId, consumer ARN, shard iterator, ListShards token, SubscribeToShard), gets
 * a ResourceNotFoundException naming both cells; names stay unique across cells; each cell's
 * record streams live on its tagged server. The embedded store serves `--cell` too.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CreateStreamCommand,
  DescribeLimitsCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  ListStreamConsumersCommand,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { NatsStore } from '../src/store/nats.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { kinesisClient, rawCall, sleep } from './helpers.js';
import {
  makeDoc,
  type NatsServers,
  startFrontend,
  startNatsCluster,
  startServe,
  stopFrontend,
} from './nats-helpers.js';

const account = '000000000000';
const arnOf = (name: string) => `arn:aws:kinesis:us-east-1:${account}:stream/${name}`;

/** The error a call fails with (it must fail). */
async function failure(call: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await call;
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
  assert.fail('the call succeeded');
}

/** Assert the call fails with the wrong-cell error naming the stream, its cell and this one's. */
async function assertWrongCell(call: Promise<unknown>, stream: string, placed: string, serving: string) {
  const error = await failure(call);
  assert.equal(error.name, 'ResourceNotFoundException', error.message);
  assert.equal(
    error.message,
    `Stream ${stream} under account ${account} is placed in cell '${placed}'; this frontend serves ` +
      `cell '${serving}'. Send requests for it to a frontend of cell '${placed}'.`,
  );
}

/** Retry until the frontend's view (built from the metadata log) knows the stream. */
async function eventually<T>(attempt: () => Promise<T>, tries = 100): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= tries) throw error;
      await sleep(50);
    }
  }
}

const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

/** Run `sluice serve` with arguments that must make it exit at once; resolves to its output. */
function serveFails(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('cells over a NATS cluster tagged per cell (AWS SDK v3)', { timeout: 240_000 }, () => {
  let nats: NatsServers;
  const frontends: ChildProcess[] = [];
  let a: KinesisClient;
  let b: KinesisClient;
  let portA = 0;
  let portB = 0;
  let store: NatsStore | undefined;

  before(async () => {
    // n0 holds cell a's record streams, n1 cell b's; the metadata log is shared by all three.
    nats = await startNatsCluster(3, [['cell:a'], ['cell:b'], []]);
    const url = `${nats.storeUrl}?replicas=1&placement=cell`;
    const fa = await startFrontend(url, ['--cell', 'a']);
    const fb = await startFrontend(url, ['--cell', 'b']);
    frontends.push(fa.child, fb.child);
    portA = fa.port;
    portB = fb.port;
    a = kinesisClient(portA);
    b = kinesisClient(portB, { http1: true });
    await a.send(new CreateStreamCommand({ StreamName: 'alpha', ShardCount: 2 }));
    await b.send(new CreateStreamCommand({ StreamName: 'beta', ShardCount: 1 }));
  });
  after(async () => {
    a?.destroy();
    b?.destroy();
    await store?.close();
    await Promise.all(frontends.map((f) => stopFrontend(f)));
    await nats?.stop();
  });

  test('each frontend serves and lists only its own cell', async () => {
    const put = await a.send(
      new PutRecordCommand({ StreamName: 'alpha', PartitionKey: 'k', Data: Buffer.from('x') }),
    );
    await b.send(new PutRecordCommand({ StreamName: 'beta', PartitionKey: 'k', Data: Buffer.from('y') }));
    const { ShardIterator } = await a.send(
      new GetShardIteratorCommand({
        StreamName: 'alpha',
        ShardId: put.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const read = await a.send(new GetRecordsCommand({ ShardIterator }));
    assert.deepEqual(
      (read.Records ?? []).map((r) => Buffer.from(r.Data ?? []).toString()),
      ['x'],
    );
    // Both frontends know both streams (one metadata log), each lists its own.
    await eventually(() =>
      assertWrongCell(b.send(new DescribeStreamSummaryCommand({ StreamName: 'alpha' })), 'alpha', 'a', 'b'),
    );
    assert.deepEqual((await a.send(new ListStreamsCommand({}))).StreamNames, ['alpha']);
    assert.deepEqual((await b.send(new ListStreamsCommand({}))).StreamNames, ['beta']);
    // The shard limit counts each cell's own open shards.
    assert.equal((await a.send(new DescribeLimitsCommand({}))).OpenShardCount, 2);
    assert.equal((await b.send(new DescribeLimitsCommand({}))).OpenShardCount, 1);
  });

  test('a request for a stream of the other cell names both cells, however it names the stream', async () => {
    const summary = await a.send(new DescribeStreamSummaryCommand({ StreamName: 'alpha' }));
    const streamId = summary.StreamDescriptionSummary?.StreamId;
    assert.ok(streamId);
    const wrong = (call: Promise<unknown>) => assertWrongCell(call, 'alpha', 'a', 'b');
    await eventually(() => wrong(b.send(new DescribeStreamSummaryCommand({ StreamName: 'alpha' }))));
    await wrong(
      b.send(new PutRecordCommand({ StreamARN: arnOf('alpha'), PartitionKey: 'k', Data: Buffer.from('z') })),
    );
    await wrong(
      b.send(
        new PutRecordsCommand({
          StreamName: 'alpha',
          Records: [{ PartitionKey: 'k', Data: Buffer.from('z') }],
        }),
      ),
    );
    // By StreamId (over a raw request: the SDK sends StreamId calls to an AWS host of its own).
    const byId = await rawCall(portB, 'DescribeStreamSummary', { StreamId: streamId });
    assert.equal(byId.status, 400);
    await wrong(
      Promise.reject(Object.assign(new Error(String(byId.body.message)), { name: String(byId.body.__type) })),
    );
    await wrong(
      b.send(
        new GetShardIteratorCommand({
          StreamName: 'alpha',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'LATEST',
        }),
      ),
    );
    await wrong(b.send(new ListShardsCommand({ StreamName: 'alpha' })));
    await wrong(b.send(new ListStreamConsumersCommand({ StreamARN: arnOf('alpha') })));
    // An iterator and a ListShards page issued by cell a's frontend, used at cell b's.
    const { ShardIterator } = await a.send(
      new GetShardIteratorCommand({
        StreamName: 'alpha',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'LATEST',
      }),
    );
    await wrong(b.send(new GetRecordsCommand({ ShardIterator })));
    const page = await a.send(new ListShardsCommand({ StreamName: 'alpha', MaxResults: 1 }));
    assert.ok(page.NextToken);
    await wrong(b.send(new ListShardsCommand({ NextToken: page.NextToken })));
    // Consumers: by consumer ARN, and SubscribeToShard (over HTTP/2).
    const { Consumer } = await a.send(
      new RegisterStreamConsumerCommand({ StreamARN: arnOf('alpha'), ConsumerName: 'reader' }),
    );
    const consumerArn = Consumer?.ConsumerARN;
    assert.ok(consumerArn);
    await eventually(() => wrong(b.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn }))));
    const b2 = kinesisClient(portB);
    try {
      await wrong(
        b2.send(
          new SubscribeToShardCommand({
            ConsumerARN: consumerArn,
            ShardId: 'shardId-000000000000',
            StartingPosition: { Type: 'LATEST' },
          }),
        ),
      );
    } finally {
      b2.destroy();
    }
    // And the other way round.
    await eventually(() =>
      assertWrongCell(a.send(new DescribeStreamSummaryCommand({ StreamName: 'beta' })), 'beta', 'b', 'a'),
    );
  });

  test('a stream name is unique across cells', async () => {
    const error = await eventually(async () => {
      const e = await failure(b.send(new CreateStreamCommand({ StreamName: 'alpha', ShardCount: 1 })));
      assert.match(e.message, /cell/);
      return e;
    });
    assert.equal(error.name, 'ResourceInUseException');
    assert.equal(error.message, `Stream alpha under account ${account} already exists in cell 'a'.`);
    // Its own cell's duplicate keeps the service's message.
    const own = await failure(a.send(new CreateStreamCommand({ StreamName: 'alpha', ShardCount: 1 })));
    assert.equal(own.name, 'ResourceInUseException');
    assert.equal(own.message, `Stream alpha under account ${account} already exists.`);
  });

  test("each cell's record streams are placed on its tagged server; the documents name the cell", async () => {
    const reader = await NatsStore.open({ servers: nats.servers, replicas: 1 });
    store = reader;
    const alpha = await reader.getStream('alpha');
    const beta = await reader.getStream('beta');
    assert.equal(alpha?.cell, 'a');
    assert.equal(beta?.cell, 'b');
    for (const [doc, server] of [
      [alpha, 'n0'],
      [beta, 'n1'],
    ] as const) {
      for (const shard of doc?.shards ?? []) {
        const info: { cluster?: { leader?: string }; config: { placement?: { tags?: string[] } } } =
          await reader.requester.api(`$JS.API.STREAM.INFO.sluice_r_${doc?.key}_${shard.index}`);
        assert.equal(info.cluster?.leader, server, `${doc?.name} shard ${shard.index}`);
        assert.deepEqual(info.config.placement?.tags, [`cell:${doc?.cell}`]);
      }
    }
  });

  test('/health and /metrics show the cell', async () => {
    const health = (await (await fetch(`http://127.0.0.1:${portB}/health`)).json()) as { cell?: string };
    assert.equal(health.cell, 'b');
    const metrics = await (await fetch(`http://127.0.0.1:${portA}/metrics`)).text();
    assert.match(metrics, /^sluice_cell_info\{cell="a"\} 1$/m);
  });

  test('a frontend of a cell no server is tagged for refuses to start, saying why', async () => {
    const { code, output } = await serveFails([
      '--store',
      `${nats.storeUrl}?replicas=1&placement=cell`,
      '--cell',
      'c',
    ]);
    assert.notEqual(code, 0);
    assert.match(output, /cannot place cell c's record streams .*server_tags: \["cell:c"\]/);
  });
});

describe('cells on the embedded store', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cells-'));
  const children: ChildProcess[] = [];
  after(async () => {
    await Promise.all(children.map((c) => stopFrontend(c)));
    rmSync(dir, { recursive: true, force: true });
  });

  test('a document written before cells belongs to the default cell; --cell serves its own', async () => {
    // A stream document without a cell, as stores written before cells hold.
    const sqlite = new SqliteStore({ dataDir: dir, fsync: false });
    const old = makeDoc('old', 1);
    assert.equal(old.cell, undefined);
    assert.ok(await sqlite.putStream(old, 0));
    await sqlite.close();

    const serve = async (args: string[]) => {
      const { child, port } = await startServe(['--data-dir', dir, ...args]);
      children.push(child);
      return { child, client: kinesisClient(port) };
    };
    const plain = await serve([]);
    const summary = await plain.client.send(new DescribeStreamSummaryCommand({ StreamName: 'old' }));
    assert.equal(summary.StreamDescriptionSummary?.StreamStatus, 'ACTIVE');
    plain.client.destroy();
    await stopFrontend(plain.child);

    const x = await serve(['--cell', 'x']);
    try {
      await assertWrongCell(
        x.client.send(new DescribeStreamSummaryCommand({ StreamName: 'old' })),
        'old',
        'default',
        'x',
      );
      await x.client.send(new CreateStreamCommand({ StreamName: 'mine', ShardCount: 1 }));
      await x.client.send(
        new PutRecordCommand({ StreamName: 'mine', PartitionKey: 'k', Data: Buffer.from('v') }),
      );
      assert.deepEqual((await x.client.send(new ListStreamsCommand({}))).StreamNames, ['mine']);
    } finally {
      x.client.destroy();
    }
  });

  test('a bad cell name is refused at start', async () => {
    for (const name of ['Upper', 'a_b', '-a', 'x'.repeat(33), '']) {
      const { code, output } = await serveFails(['--memory', '--cell', name]);
      assert.notEqual(code, 0, name);
      assert.match(output, /cell name/, name);
    }
  });
});
