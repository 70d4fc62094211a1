import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import Database from 'better-sqlite3';
import { kinesisClient, sleep } from './helpers.js';

const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** Start `sluice serve` as its own process on a free port; resolves once it listens. */
function startProcess(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      bin,
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--create-stream-ms',
      '0',
      '--throughput',
      'unlimited',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start within 10 s')), 10_000);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening: ${out}`));
    });
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

interface Acked {
  data: string;
  shardId: string;
  sequenceNumber: string;
}

/** Writers put batches until the server dies under them; only acknowledged records are kept. */
async function writeUntilKilled(
  client: KinesisClient,
  writer: number,
  cycle: number,
  acked: Acked[],
): Promise<void> {
  for (let batch = 0; batch < 10_000; batch++) {
    const records = Array.from({ length: 20 }, (_, i) => ({
      PartitionKey: `w${writer}-${batch}-${i}`,
      Data: Buffer.from(`c${cycle}-w${writer}-b${batch}-r${i}`),
    }));
    try {
      const out = await client.send(new PutRecordsCommand({ StreamName: 'crash', Records: records }));
      out.Records?.forEach((r, i) => {
        acked.push({
          data: (records[i] as { Data: Buffer }).Data.toString(),
          shardId: r.ShardId ?? '',
          sequenceNumber: r.SequenceNumber ?? '',
        });
      });
    } catch {
      return; // the server was killed: this batch was never acknowledged
    }
  }
}

async function readAll(client: KinesisClient): Promise<Map<string, Array<{ data: string; seq: string }>>> {
  const shards = await client.send(new ListShardsCommand({ StreamName: 'crash' }));
  const result = new Map<string, Array<{ data: string; seq: string }>>();
  for (const shard of shards.Shards ?? []) {
    const shardId = shard.ShardId ?? '';
    let { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: 'crash',
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const records: Array<{ data: string; seq: string }> = [];
    for (let calls = 0; calls < 1_000 && ShardIterator; calls++) {
      const out = await client.send(new GetRecordsCommand({ ShardIterator }));
      for (const r of out.Records ?? []) {
        records.push({ data: Buffer.from(r.Data ?? []).toString(), seq: r.SequenceNumber ?? '' });
      }
      if ((out.Records ?? []).length === 0) break;
      ShardIterator = out.NextShardIterator;
    }
    result.set(shardId, records);
  }
  return result;
}

test('acknowledged records survive SIGKILL at random moments, in order, once each', async () => {
  const cycles = 10;
  const acked: Acked[] = [];
  for (let cycle = 0; cycle < cycles; cycle++) {
    const { child, port } = await startProcess();
    const clients = [
      kinesisClient(port),
      kinesisClient(port, { http1: true }),
      kinesisClient(port),
      kinesisClient(port),
    ];
    try {
      if (cycle === 0)
        await clients[0]?.send(new CreateStreamCommand({ StreamName: 'crash', ShardCount: 4 }));
      else {
        const stored = await readAll(clients[0] as KinesisClient);
        verify(stored, acked);
      }
      const writers = clients.map((c, w) => writeUntilKilled(c, w, cycle, acked));
      await sleep(150 + Math.floor(Math.random() * 400));
      await kill(child);
      await Promise.all(writers);
    } finally {
      for (const c of clients) c.destroy();
      if (child.exitCode === null && child.signalCode === null) await kill(child);
    }
    const db = new Database(join(dataDir, 'sluice.db'));
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
  }
  assert.ok(acked.length > 0, 'writers got acknowledgements before the kills');
  console.log(`${acked.length} acknowledged records over ${cycles} kills`);
  const { child, port } = await startProcess();
  const client = kinesisClient(port);
  try {
    verify(await readAll(client), acked);
  } finally {
    client.destroy();
    await kill(child);
  }
});

function verify(stored: Map<string, Array<{ data: string; seq: string }>>, acked: Acked[]): void {
  const where = new Map<string, { shardId: string; seq: string; count: number }>();
  for (const [shardId, records] of stored) {
    let previous = -1n;
    for (const r of records) {
      const seq = BigInt(r.seq);
      assert.ok(seq > previous, `sequence numbers increase within ${shardId}`);
      previous = seq;
      const seen = where.get(r.data);
      where.set(r.data, { shardId, seq: r.seq, count: (seen?.count ?? 0) + 1 });
    }
  }
  for (const a of acked) {
    const found = where.get(a.data);
    assert.ok(found, `acknowledged record ${a.data} is stored`);
    assert.equal(found.count, 1, `acknowledged record ${a.data} is stored once`);
    assert.equal(found.shardId, a.shardId);
    assert.equal(found.seq, a.sequenceNumber, `record ${a.data} keeps its acknowledged sequence number`);
  }
}
