/**
 * `sluice cluster up | status | down` as a user runs them: a 3-node nats-server cluster and two
 * frontends on loopback ports, served through with the AWS SDK v3, reported by `status`, refused
 * when started twice, and stopped (frontends first) by `down`; a missing nats-server is explained.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  PutRecordCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis';
import { findNatsServer, natsConfig } from '../src/cli/cluster.js';
import { kinesisClient, sleep } from './helpers.js';

const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

function sluice(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` consecutive free loopback ports (the command numbers its processes' ports in a row). */
async function freeRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const free = await Promise.all(Array.from({ length: count }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('sluice cluster up / status / down', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cluster-'));
  let base = 0;
  const pids: number[] = [];

  before(async () => {
    base = await freeRange(8); // 3 client ports, 3 route ports, 2 frontends
  });

  after(async () => {
    await sluice(['cluster', 'down', '--dir', dir]);
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('up starts 3 nodes and 2 frontends that serve the same streams; status and down', async () => {
    const up = await sluice([
      'cluster',
      'up',
      '--dir',
      dir,
      '--nats-port',
      String(base),
      '--cluster-port',
      String(base + 3),
      '--port',
      String(base + 6),
      '--frontends',
      '2',
      '--',
      '--throughput',
      'unlimited',
      '--create-stream-ms',
      '0',
    ]);
    for (const name of ['n1', 'n2', 'n3', 'frontend-1', 'frontend-2']) {
      const pid = Number(readFileSync(join(dir, `${name}.pid`), 'utf8'));
      if (pid > 0) pids.push(pid);
    }
    assert.equal(up.code, 0, up.stderr);
    assert.match(
      up.stdout,
      new RegExp(`store: nats://127.0.0.1:${base},127.0.0.1:${base + 1},127.0.0.1:${base + 2}`),
    );
    assert.match(up.stdout, new RegExp(`frontend-2: http://127.0.0.1:${base + 7}`));
    assert.equal(pids.length, 5);
    for (const pid of pids) assert.ok(alive(pid));

    // The nodes run with the settings the store needs.
    const conf = readFileSync(join(dir, 'n2.conf'), 'utf8');
    assert.match(conf, /max_payload: 16MB/);
    assert.match(conf, /jetstream/);
    assert.match(conf, new RegExp(`routes: \\[nats-route://127.0.0.1:${base + 3}`));

    // Both frontends serve the same streams (the extra serve flags reached them: no CREATING wait).
    const one = kinesisClient(base + 6);
    const two = kinesisClient(base + 7);
    try {
      await one.send(new CreateStreamCommand({ StreamName: 'fleet', ShardCount: 1 }));
      let summary: Awaited<ReturnType<typeof summarize>> | undefined;
      const summarize = () => two.send(new DescribeStreamSummaryCommand({ StreamName: 'fleet' }));
      for (let i = 0; i < 100 && !summary; i++) {
        summary = await summarize().catch((e: unknown) => {
          if (e instanceof ResourceNotFoundException) return undefined;
          throw e;
        });
        if (!summary) await sleep(50);
      }
      assert.equal(summary?.StreamDescriptionSummary?.StreamStatus, 'ACTIVE');
      await two.send(
        new PutRecordCommand({ StreamName: 'fleet', PartitionKey: 'p', Data: Buffer.from('hello') }),
      );
      const { ShardIterator } = await one.send(
        new GetShardIteratorCommand({
          StreamName: 'fleet',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const got = await one.send(new GetRecordsCommand({ ShardIterator }));
      assert.deepEqual(
        (got.Records ?? []).map((r) => Buffer.from(r.Data ?? []).toString()),
        ['hello'],
      );
    } finally {
      one.destroy();
      two.destroy();
    }

    const status = await sluice(['cluster', 'status', '--dir', dir, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as {
      processes: Array<{
        name: string;
        pid?: number;
        health?: { status: string; metadata: { version: number } };
      }>;
    };
    assert.equal(report.processes.length, 5);
    for (const p of report.processes) assert.ok(p.pid, `${p.name} running`);
    for (const p of report.processes.filter((p) => p.name.startsWith('frontend'))) {
      assert.equal(p.health?.status, 'ok');
      assert.ok((p.health?.metadata.version ?? 0) > 0, `${p.name} has applied the stream's creation`);
    }

    const again = await sluice(['cluster', 'up', '--dir', dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already running/);

    const down = await sluice(['cluster', 'down', '--dir', dir]);
    assert.equal(down.code, 0, down.stderr);
    // Frontends first, then the nodes.
    const order = down.stdout.split('\n').filter((l) => l.includes('stopped'));
    assert.deepEqual(
      order.map((l) => l.split(':')[0]),
      ['frontend-1', 'frontend-2', 'n1', 'n2', 'n3'],
    );
    for (const pid of pids) assert.equal(alive(pid), false);
    const after = await sluice(['cluster', 'status', '--dir', dir]);
    assert.equal(after.code, 3, 'status fails when processes are stopped');
    assert.match(after.stdout, /frontend-1 .* stopped/);
  });

  test('a missing nats-server is explained', async () => {
    assert.throws(
      () =>
        findNatsServer(undefined, {
          env: undefined,
          path: '/nonexistent-bin',
          fallback: '/nonexistent/nats-server',
        }),
      /nats-server not found \(looked on PATH and at \/nonexistent\/nats-server\)\. Install it: .*apt-get install nats-server/,
    );
    const result = await sluice([
      'cluster',
      'up',
      '--dir',
      join(dir, 'x'),
      '--nats-server',
      '/nonexistent/nats-server',
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /nats-server not found or not executable at \/nonexistent\/nats-server/);
  });

  test('a single node has no cluster block', () => {
    const conf = natsConfig(
      {
        dir: '/d',
        natsServer: 'x',
        nodes: [{ name: 'n1', port: 1, clusterPort: 2 }],
        storeUrl: '',
        frontends: [],
        serveArgs: [],
      },
      0,
    );
    assert.match(conf, /max_payload: 16MB/);
    assert.doesNotMatch(conf, /cluster/);
  });
});
