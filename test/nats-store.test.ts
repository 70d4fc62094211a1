/**
 * The NATS store with several frontends: two NatsStore instances over one single-node
 * nats-server (started here) behave as two Sluice frontends over the same cluster.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NatsStore, parseNatsUrl, ShardSealedPartialError } from '../src/store/nats.js';
import { type AppendEntry, type MetaChange, ShardSealedError, type StreamDoc } from '../src/store/store.js';
import { sleep } from './helpers.js';
import { makeDoc, type NatsServers, startNats } from './nats-helpers.js';

const all = { minArrivalMs: 0, maxCount: 10_000, maxBytes: 64 * 1024 * 1024 };

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test('parseNatsUrl reads servers and options', () => {
  assert.deepEqual(parseNatsUrl('nats://127.0.0.1:4222'), { servers: ['127.0.0.1:4222'] });
  assert.deepEqual(parseNatsUrl('nats://a:1,b:2,c:3?replicas=3&prefix=blue'), {
    servers: ['a:1', 'b:2', 'c:3'],
    replicas: 3,
    prefix: 'blue',
  });
  assert.throws(() => parseNatsUrl('http://a:1'));
  assert.throws(() => parseNatsUrl('nats://a:1?replicas=0'));
  assert.throws(() => parseNatsUrl('nats://a:1?colour=red'));
});

describe('NATS store: two frontends over one server', { timeout: 120_000 }, () => {
  let nats: NatsServers;
  let a: NatsStore;
  let b: NatsStore;

  before(async () => {
    nats = await startNats();
    a = await NatsStore.open({ servers: nats.servers });
    b = await NatsStore.open({ servers: nats.servers });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await nats?.stop();
  });

  test('a stream written through one is seen by the other: getStream, loadStreams and watch', async () => {
    const seen: MetaChange[] = [];
    const unwatch = b.watch((change) => seen.push(change));
    const created = await a.putStream(makeDoc('shared'), 0);
    assert.ok(created);
    await until(() => seen.some((c) => c.kind === 'put' && c.doc.name === 'shared'), 'the put');
    assert.equal((await b.getStream('shared'))?.version, created.version);
    assert.ok((await b.loadStreams()).some((d) => d.name === 'shared' && d.version === created.version));
    const updated = await b.putStream({ ...created, tags: { by: 'b' } }, created.version);
    assert.ok(updated);
    assert.equal(await a.putStream({ ...created, tags: { by: 'a' } }, created.version), null, 'stale on a');
    assert.deepEqual((await a.getStream('shared'))?.tags, { by: 'b' });
    assert.ok(await a.deleteStream('shared', updated.version));
    await until(() => seen.some((c) => c.kind === 'delete' && c.name === 'shared'), 'the delete');
    unwatch();
    const mine = seen.filter((c) => (c.kind === 'put' ? c.doc.name : c.name) === 'shared');
    assert.deepEqual(
      mine.map((c) => c.kind),
      ['put', 'put', 'delete'],
    );
  });

  test('a store opened later starts from the latest entry of each name', async () => {
    let doc = await a.putStream(makeDoc('before-open'), 0);
    for (let i = 0; i < 5 && doc; i++)
      doc = await a.putStream({ ...doc, tags: { i: String(i) } }, doc.version);
    assert.ok(doc);
    const gone = await a.putStream(makeDoc('deleted-before-open'), 0);
    assert.ok(gone && (await a.deleteStream('deleted-before-open', gone.version)));
    await a.putSetting('before-open', 'x', 0);
    const c = await NatsStore.open({ servers: nats.servers });
    try {
      const docs = await c.loadStreams();
      const found = docs.find((d) => d.name === 'before-open');
      assert.equal(found?.version, doc.version);
      assert.equal(found?.key, doc.key);
      assert.deepEqual(found?.tags, { i: '4' });
      assert.ok(!docs.some((d) => d.name === 'deleted-before-open'));
      assert.equal((await c.getSetting('before-open'))?.value, 'x');
      assert.equal(
        await c.putStream({ ...doc, tags: {} }, doc.version - 1),
        null,
        'an older version is stale',
      );
      assert.ok(await c.putStream({ ...doc, tags: {} }, doc.version));
    } finally {
      await c.close();
    }
  });

  test('concurrent compare-and-set from both frontends loses no update', async () => {
    const start = await a.putStream({ ...makeDoc('counter'), tags: { n: '0' } }, 0);
    assert.ok(start);
    let wins = 0;
    const writer = async (store: NatsStore) => {
      for (let i = 0; i < 25; i++) {
        const current = (await store.getStream('counter')) as StreamDoc;
        const next = { ...current, tags: { n: String(Number(current.tags.n) + 1) } };
        if (await store.putStream(next, current.version)) wins++;
      }
    };
    await Promise.all([writer(a), writer(b), writer(a), writer(b)]);
    assert.ok(wins >= 25, `${wins} successful updates`);
    assert.equal((await b.getStream('counter'))?.tags.n, String(wins));
  });

  test('secrets and settings are shared', async () => {
    const [x, y] = await Promise.all([a.secret('shared-secret', 32), b.secret('shared-secret', 32)]);
    assert.deepEqual(x, y);
    const first = await a.putSetting('shared-setting', 1, 0);
    assert.ok(first);
    assert.equal(await b.putSetting('shared-setting', 2, 0), null);
    assert.deepEqual(await b.getSetting('shared-setting'), { value: 1, version: first.version });
    assert.ok(await b.putSetting('shared-setting', 2, first.version));
  });

  test('concurrent appends to one shard from both frontends: distinct positions, arrival never decreasing', async () => {
    const doc = await a.putStream(makeDoc('both', 1), 0);
    assert.ok(doc);
    const batch = (tag: string): AppendEntry[] =>
      Array.from({ length: 50 }, (_, i) => ({
        shard: 0,
        data: Buffer.from(`${tag}-${i}`),
        partitionKey: 'k',
      }));
    const calls = await Promise.all(
      Array.from({ length: 16 }, (_, c) => (c % 2 === 0 ? a : b).append(doc.key, batch(`c${c}`))),
    );
    const { records } = await a.read({ streamKey: doc.key, shard: 0, fromPosition: 0, ...all });
    assert.equal(records.length, 800);
    assert.deepEqual(
      records.map((r) => r.position),
      Array.from({ length: 800 }, (_, i) => i),
    );
    for (let i = 1; i < records.length; i++)
      assert.ok((records[i]?.arrivalMs ?? 0) >= (records[i - 1]?.arrivalMs ?? 0), 'arrival never decreases');
    calls.forEach((call, c) => {
      call.forEach((appended, i) => {
        const stored = records[appended.position];
        assert.equal(stored?.data.toString(), `c${c}-${i}`);
        assert.equal(stored?.arrivalMs, appended.arrivalMs);
      });
      // One call's records to one shard stay together and in order.
      for (let i = 1; i < call.length; i++) assert.equal(call[i]?.position, (call[i - 1]?.position ?? 0) + 1);
    });
  });

  test("watchShard wakes a waiter on one frontend for the other's append, once, and not for other shards", async () => {
    const doc = await a.putStream(makeDoc('woken', 2), 0);
    assert.ok(doc);
    for (let i = 0; i < 1_000 && (await b.getStream('woken')) === undefined; i++) await sleep(5);
    let wakes = 0;
    let otherWakes = 0;
    const stop = b.watchShard(doc.key, 0, () => wakes++);
    const stopOther = b.watchShard(doc.key, 1, () => otherWakes++);
    await a.append(doc.key, [{ shard: 0, data: Buffer.from('one'), partitionKey: 'k' }]);
    await until(() => wakes > 0, 'the wake for shard 0');
    await a.append(doc.key, [{ shard: 0, data: Buffer.from('two'), partitionKey: 'k' }]);
    await b.append(doc.key, [{ shard: 0, data: Buffer.from('three'), partitionKey: 'k' }]);
    await sleep(200);
    stop();
    stopOther();
    assert.equal(wakes, 1, 'one wake per wait');
    assert.equal(otherWakes, 0, 'an append to shard 0 does not wake a waiter of shard 1');
  });

  test("a seal made by one frontend refuses the other's appends, and a retry does not store twice", async () => {
    const doc = await a.putStream(makeDoc('reshard', 3), 0);
    assert.ok(doc);
    await b.append(doc.key, [{ shard: 1, data: Buffer.from('warm'), partitionKey: 'w' }]); // b knows shard 1's tip
    const tip = await a.sealShard(doc.key, 1);
    assert.equal(tip.nextPosition, 1);
    await assert.rejects(
      b.append(doc.key, [{ shard: 1, data: Buffer.from('x'), partitionKey: 'x' }]),
      ShardSealedError,
    );
    // A call over an open and a sealed shard that b does not know is sealed.
    const doc2 = await a.putStream(makeDoc('reshard-2', 3), 0);
    assert.ok(doc2);
    await a.sealShard(doc2.key, 1);
    const open = { shard: 0, data: Buffer.from('kept once'), partitionKey: 'p0' };
    const closed = { shard: 1, data: Buffer.from('moved'), partitionKey: 'p1' };
    const refused = await b.append(doc2.key, [open, closed]).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(refused instanceof ShardSealedError);
    assert.ok(refused instanceof ShardSealedPartialError);
    // The engine routes the same records again: the open shard's entry keeps its first result.
    const again = await b.append(doc2.key, [
      { ...open, data: open.data },
      { ...closed, shard: 2 },
    ]);
    assert.equal(again[0]?.position, 0);
    assert.equal(again[1]?.position, 0);
    const shard0 = await a.read({ streamKey: doc2.key, shard: 0, fromPosition: 0, ...all });
    assert.deepEqual(
      shard0.records.map((r) => r.data.toString()),
      ['kept once'],
    );
    const shard1 = await a.read({ streamKey: doc2.key, shard: 1, fromPosition: 0, ...all });
    assert.deepEqual(shard1.records, []);
    assert.equal(shard1.tip.sealed, true);
  });

  test('records up to 10 MiB', async () => {
    const doc = await a.putStream({ ...makeDoc('large', 1), maxRecordSizeKiB: 10 * 1024 }, 0);
    assert.ok(doc);
    const one = Buffer.alloc(1024 * 1024, 1);
    const ten = Buffer.alloc(10 * 1024 * 1024, 2);
    await a.append(doc.key, [
      { shard: 0, data: one, partitionKey: 'one' },
      { shard: 0, data: ten, partitionKey: 'k'.repeat(256) },
    ]);
    const first = await b.read({
      streamKey: doc.key,
      shard: 0,
      fromPosition: 0,
      minArrivalMs: 0,
      maxCount: 100,
      maxBytes: 10 * 1024 * 1024,
    });
    assert.equal(first.records.length, 1, 'the byte bound stops before the second');
    assert.ok(first.records[0]?.data.equals(one));
    const second = await b.read({
      streamKey: doc.key,
      shard: 0,
      fromPosition: 1,
      minArrivalMs: 0,
      maxCount: 100,
      maxBytes: 10 * 1024 * 1024,
    });
    assert.ok(second.records[0]?.data.equals(ten));
  });

  test('appends to a deleted stream fail and do not bring its records back', async () => {
    const doc = await a.putStream(makeDoc('gone', 1), 0);
    assert.ok(doc);
    await a.append(doc.key, [{ shard: 0, data: Buffer.from('x'), partitionKey: 'x' }]);
    await b.getStream('gone');
    assert.ok(await a.deleteStream('gone', doc.version));
    await assert.rejects(b.append(doc.key, [{ shard: 0, data: Buffer.from('late'), partitionKey: 'x' }]));
    assert.deepEqual(await a.tip(doc.key, 0), { nextPosition: 0, lastArrivalMs: 0 });
  });
});
