/**
 * `/health` shows the frontend's shard-map (metadata) version and its lag behind the store's
 * metadata log: on the embedded store the version counts the changes, with no lag; over NATS two
 * `sluice serve` frontends, a change made through one, and the other's version catching up to it.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { AddTagsToStreamCommand, CreateStreamCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { Sluice } from '../src/app.js';
import { kinesisClient, sleep, startTestServer } from './helpers.js';
import { type NatsServers, startFrontend, startNats, stopFrontend } from './nats-helpers.js';

interface Health {
  status: string;
  store: string;
  metadata: { version: number; lag: number | null; measuredAgoMs: number | null };
}

async function health(port: number): Promise<Health> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(res.status, 200);
  return (await res.json()) as Health;
}

describe('/health metadata on the embedded store', () => {
  let sluice: Sluice;
  let client: KinesisClient;
  before(async () => {
    sluice = await startTestServer();
    client = kinesisClient(sluice.port);
  });
  after(async () => {
    client?.destroy();
    await sluice?.close();
  });

  test('the version counts metadata changes; the lag is 0', async () => {
    const start = await health(sluice.port);
    assert.equal(start.store, 'sqlite-memory');
    assert.equal(start.metadata.lag, 0);
    await client.send(new CreateStreamCommand({ StreamName: 'h', ShardCount: 1 }));
    await client.send(new AddTagsToStreamCommand({ StreamName: 'h', Tags: { a: '1' } }));
    const later = await health(sluice.port);
    assert.ok(
      later.metadata.version >= start.metadata.version + 2,
      `${start.metadata.version} -> ${later.metadata.version}`,
    );
    assert.equal(later.metadata.lag, 0);
  });
});

describe('/health metadata of two frontends over NATS', { timeout: 120_000 }, () => {
  let nats: NatsServers;
  const frontends: Array<{ child: ChildProcess; port: number }> = [];
  let one: KinesisClient;

  before(async () => {
    nats = await startNats();
    frontends.push(await startFrontend(nats.storeUrl), await startFrontend(nats.storeUrl));
    one = kinesisClient((frontends[0] as { port: number }).port);
  });
  after(async () => {
    one?.destroy();
    await Promise.all(frontends.map((f) => stopFrontend(f.child)));
    await nats?.stop();
  });

  test("a change through one frontend: the other's version catches up, its lag is a number >= 0", async () => {
    const a = frontends[0] as { port: number };
    const b = frontends[1] as { port: number };
    const before = await health(b.port);
    assert.equal(before.store, 'nats');
    await one.send(new CreateStreamCommand({ StreamName: 'seen-by-b', ShardCount: 1 }));
    await one.send(new AddTagsToStreamCommand({ StreamName: 'seen-by-b', Tags: { k: 'v' } }));
    // The frontend that made the change has applied it when the call returns.
    const target = (await health(a.port)).metadata.version;
    assert.ok(target > before.metadata.version, `${before.metadata.version} -> ${target}`);
    let seen = before;
    for (let i = 0; i < 100 && seen.metadata.version < target; i++) {
      await sleep(50);
      seen = await health(b.port);
    }
    assert.ok(seen.metadata.version >= target, `b reached ${seen.metadata.version}, a is at ${target}`);
    // The lag is measured on a timer (never on the /health request): a number once measured.
    for (let i = 0; i < 100 && seen.metadata.lag === null; i++) {
      await sleep(50);
      seen = await health(b.port);
    }
    assert.equal(typeof seen.metadata.lag, 'number');
    assert.ok((seen.metadata.lag as number) >= 0);
    assert.equal(typeof seen.metadata.measuredAgoMs, 'number');
    // Caught up: once measured after the change, nothing is pending.
    for (let i = 0; i < 100 && seen.metadata.lag !== 0; i++) {
      await sleep(100);
      seen = await health(b.port);
    }
    assert.equal(seen.metadata.lag, 0);
    assert.equal(seen.status, 'ok');
  });
});
