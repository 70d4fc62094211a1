/**
 * The Store contract, tested the same way against every implementation: the embedded SQLite store
 * (in memory), the NATS JetStream store on a single-node nats-server started here, and the NATS
 * store on a 3-node cluster (R3) through two stores (two frontends) with every call alternating
 * between them: a watch on one sees the changes made through the other, and a read through one
 * sees what was just appended through the other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NatsStore } from '../src/store/nats.js';
import { SqliteStore } from '../src/store/sqlite.js';
import {
  type AppendEntry,
  type Appended,
  type Lease,
  type LeaseBody,
  type MetaChange,
  type ReadRequest,
  ShardSealedError,
  type ShardTip,
  type Store,
  type StreamDoc,
} from '../src/store/store.js';
import { sleep } from './helpers.js';
import { makeDoc, type NatsServers, startNats, startNatsCluster } from './nats-helpers.js';

function entries(shard: number, count: number, tag: string): AppendEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    shard,
    data: Buffer.from(`${tag}-${i}`),
    partitionKey: `pk-${i}`,
  }));
}

const allRecords = { minArrivalMs: 0, maxCount: 10_000, maxBytes: 10 * 1024 * 1024 };

interface Backend {
  name: string;
  /** True when calls go through several frontends (concurrent calls are then not ordered by
   * the order in which they were issued, and a call's records may interleave with another's). */
  frontends?: number;
  start(): Promise<void>;
  open(): Promise<Store>;
  stop(): Promise<void>;
}

/**
 * Two stores over one cluster, as two frontends: every call goes to the one the previous call did
 * not use (a watch too), so each step of a test is checked against the other frontend's writes.
 */
class AlternatingStore implements Store {
  readonly kind: string;
  private next = 0;

  constructor(private readonly stores: [Store, Store]) {
    this.kind = stores[0].kind;
  }

  private pick(): Store {
    const store = this.stores[this.next] as Store;
    this.next = 1 - this.next;
    return store;
  }

  loadStreams() {
    return this.pick().loadStreams();
  }
  watch(onChange: (change: MetaChange) => void) {
    return this.pick().watch(onChange);
  }
  putStream(doc: StreamDoc, expectedVersion: number) {
    return this.pick().putStream(doc, expectedVersion);
  }
  deleteStream(name: string, expectedVersion: number) {
    return this.pick().deleteStream(name, expectedVersion);
  }
  getStream(name: string) {
    return this.pick().getStream(name);
  }
  getSetting(name: string) {
    return this.pick().getSetting(name);
  }
  putSetting(name: string, value: unknown, expectedVersion: number) {
    return this.pick().putSetting(name, value, expectedVersion);
  }
  secret(name: string, sizeBytes: number) {
    return this.pick().secret(name, sizeBytes);
  }
  append(streamKey: number, entries: AppendEntry[]) {
    return this.pick().append(streamKey, entries);
  }
  sealShard(streamKey: number, shard: number) {
    return this.pick().sealShard(streamKey, shard);
  }
  read(request: ReadRequest) {
    return this.pick().read(request);
  }
  tip(streamKey: number, shard: number) {
    return this.pick().tip(streamKey, shard);
  }
  positionAt(streamKey: number, shard: number, timestampMs: number) {
    return this.pick().positionAt(streamKey, shard, timestampMs);
  }
  trim(streamKey: number, shard: number, beforeMs: number, maxRows: number) {
    return this.pick().trim(streamKey, shard, beforeMs, maxRows);
  }
  updateLease(name: string, decide: (current: Lease | undefined) => LeaseBody | undefined) {
    return this.pick().updateLease(name, decide);
  }
  peekLease(name: string) {
    return this.pick().peekLease(name);
  }
  watchLeases(onChange: (lease: Lease) => void) {
    return this.pick().watchLeases(onChange);
  }
  heartbeat(id: string, leaving?: boolean) {
    return this.pick().heartbeat(id, leaving);
  }
  async close() {
    await Promise.all(this.stores.map((s) => s.close()));
  }
}

let nats: NatsServers | undefined;
let cluster: NatsServers | undefined;
const backends: Backend[] = [
  {
    name: 'sqlite-memory',
    start: async () => {},
    open: async () => new SqliteStore({}),
    stop: async () => {},
  },
  {
    name: 'nats (single node)',
    start: async () => {
      nats = await startNats();
    },
    open: () => NatsStore.open({ servers: nats?.servers ?? [] }),
    stop: async () => {
      await nats?.stop();
    },
  },
  {
    name: 'nats (3-node cluster, R3, two frontends alternating)',
    frontends: 2,
    start: async () => {
      cluster = await startNatsCluster(3);
    },
    open: async () => {
      // Each frontend knows one node (it learns the others from it), as `sluice serve` would.
      const [a, b] = cluster?.nodes ?? [];
      const open = (n: typeof a) => NatsStore.open({ servers: [`127.0.0.1:${n?.port}`] });
      return new AlternatingStore(await Promise.all([open(a), open(b)]));
    },
    stop: async () => {
      await cluster?.stop();
    },
  },
];

for (const backend of backends) {
  describe(`Store conformance: ${backend.name}`, { timeout: 120_000 }, () => {
    let store: Store;

    before(async () => {
      await backend.start();
      store = await backend.open();
    });
    after(async () => {
      await store?.close();
      await backend.stop();
    });

    /** Create a stream document in the store (NATS refuses records of a stream it does not know). */
    async function create(name: string, shards = 2): Promise<StreamDoc> {
      const stored = await store.putStream(makeDoc(name, shards), 0);
      assert.ok(stored);
      return stored;
    }

    test('putStream is compare-and-set on the version', async () => {
      const doc = makeDoc('cas');
      const first = await store.putStream(doc, 0);
      assert.ok(first);
      assert.ok(first.version > 0);
      assert.equal(await store.putStream(doc, 0), null, 'a second create fails');
      const second = await store.putStream({ ...first, retentionHours: 48 }, first.version);
      assert.ok(second);
      assert.ok(second.version > first.version);
      assert.equal(second.retentionHours, 48);
      assert.equal(await store.putStream({ ...first, retentionHours: 72 }, first.version), null, 'stale');
      const read = await store.getStream('cas');
      assert.equal(read?.version, second.version);
      assert.equal(read?.retentionHours, 48);
      assert.equal(await store.getStream('no-such-stream'), undefined);
      const names = (await store.loadStreams()).map((d) => d.name);
      assert.ok(names.includes('cas'));
    });

    test('deleteStream is compare-and-delete, and the name can be created again', async () => {
      const doc = await create('del-cas');
      assert.equal(await store.deleteStream('del-cas', doc.version + 1000), false);
      assert.equal(await store.deleteStream('no-such-stream', 1), false);
      assert.equal(await store.deleteStream('del-cas', doc.version), true);
      assert.equal(await store.getStream('del-cas'), undefined);
      assert.ok(!(await store.loadStreams()).some((d) => d.name === 'del-cas'));
      const again = await store.putStream(makeDoc('del-cas'), 0);
      assert.ok(again, 'created again after deletion');
      assert.notEqual(again.key, doc.key);
    });

    test('watch delivers every accepted change, in order', async () => {
      const changes: MetaChange[] = [];
      const unwatch = store.watch((change) => changes.push(change));
      const a = await create('watch-a');
      const a2 = await store.putStream({ ...a, tags: { x: '1' } }, a.version);
      assert.ok(a2);
      assert.equal(await store.putStream({ ...a, tags: { x: '2' } }, a.version), null);
      await store.deleteStream('watch-a', a2.version);
      // A store that learns of its own changes from its log may deliver them a moment later.
      for (let i = 0; i < 100 && changes.length < 3; i++) await sleep(10);
      unwatch();
      const mine = changes.filter((c) => (c.kind === 'put' ? c.doc.name : c.name) === 'watch-a');
      assert.deepEqual(
        mine.map((c) =>
          c.kind === 'put' ? `put ${c.doc.version} ${c.doc.tags.x ?? ''}` : `delete ${c.key}`,
        ),
        [`put ${a.version} `, `put ${a2.version} 1`, `delete ${a.key}`],
      );
    });

    test('settings are compare-and-set', async () => {
      assert.equal(await store.getSetting('s1'), undefined);
      const first = await store.putSetting('s1', { on: true }, 0);
      assert.ok(first);
      assert.equal(await store.putSetting('s1', { on: false }, 0), null);
      const second = await store.putSetting('s1', { on: false }, first.version);
      assert.ok(second && second.version > first.version);
      assert.equal(await store.putSetting('s1', { on: true }, first.version), null);
      assert.deepEqual(await store.getSetting('s1'), { value: { on: false }, version: second.version });
    });

    test('a secret is created once', async () => {
      const a = await store.secret('test-secret', 32);
      assert.equal(a.length, 32);
      assert.deepEqual(await store.secret('test-secret', 32), a);
      const [b, c] = await Promise.all([
        store.secret('test-secret-2', 16),
        store.secret('test-secret-2', 16),
      ]);
      assert.deepEqual(b, c);
    });

    test('append: positions from 0 per shard in input order, arrival never decreasing', async () => {
      const doc = await create('append', 3);
      const batch = [
        ...entries(0, 3, 'a'),
        ...entries(1, 2, 'b'),
        { shard: 0, data: Buffer.from('c'), partitionKey: 'k' },
      ];
      const appended = await store.append(doc.key, batch);
      assert.deepEqual(
        appended.map((a) => a.position),
        [0, 1, 2, 0, 1, 3],
      );
      const more = await store.append(doc.key, entries(0, 2, 'd'));
      assert.deepEqual(
        more.map((a) => a.position),
        [4, 5],
      );
      const { records, tip } = await store.read({
        streamKey: doc.key,
        shard: 0,
        fromPosition: 0,
        ...allRecords,
      });
      assert.deepEqual(
        records.map((r) => r.data.toString()),
        ['a-0', 'a-1', 'a-2', 'c', 'd-0', 'd-1'],
      );
      assert.deepEqual(
        records.map((r) => r.position),
        [0, 1, 2, 3, 4, 5],
      );
      for (let i = 1; i < records.length; i++)
        assert.ok((records[i]?.arrivalMs ?? 0) >= (records[i - 1]?.arrivalMs ?? 0));
      assert.equal(tip.nextPosition, 6);
      assert.equal(tip.lastArrivalMs, records[5]?.arrivalMs);
      assert.ok(!tip.sealed);
      // The acknowledged arrival is the stored one.
      assert.equal(records[3]?.arrivalMs, appended[5]?.arrivalMs);
      assert.deepEqual(await store.tip(doc.key, 2), { nextPosition: 0, lastArrivalMs: 0 });
      const empty = await store.read({ streamKey: doc.key, shard: 2, fromPosition: 0, ...allRecords });
      assert.deepEqual(empty.records, []);
    });

    test('concurrent appends to one shard get distinct, contiguous positions', async () => {
      const doc = await create('concurrent', 1);
      const calls = await Promise.all(
        Array.from({ length: 20 }, (_, c) => store.append(doc.key, entries(0, 10, `c${c}`))),
      );
      const positions = calls.flat().map((a) => a.position);
      assert.deepEqual(
        [...positions].sort((x, y) => x - y),
        Array.from({ length: 200 }, (_, i) => i),
      );
      // One frontend keeps a call's records together; through two, another frontend's records
      // may land between them (the contract promises input order, not contiguity).
      for (const call of calls)
        for (let i = 1; i < call.length; i++) {
          const previous = call[i - 1]?.position ?? 0;
          if (backend.frontends) assert.ok((call[i]?.position ?? 0) > previous);
          else assert.equal(call[i]?.position, previous + 1);
        }
      const { records } = await store.read({ streamKey: doc.key, shard: 0, fromPosition: 0, ...allRecords });
      assert.equal(records.length, 200);
      calls.forEach((call, c) => {
        call.forEach((a, i) => {
          assert.equal(records[a.position]?.data.toString(), `c${c}-${i}`);
          assert.equal(records[a.position]?.arrivalMs, a.arrivalMs);
        });
      });
    });

    test('records keep data, partition key and key id exactly', async () => {
      const doc = await create('exact', 1);
      const keys = [
        'plain',
        ' leading space',
        'trailing\t',
        'new\nline',
        'colon: value',
        'ünïcödé ✓',
        'a'.repeat(256),
      ];
      const big = Buffer.alloc(1024 * 1024, 0xab);
      const batch: AppendEntry[] = [
        ...keys.map((k, i) => ({ shard: 0, data: Buffer.from([i, 0, 255]), partitionKey: k })),
        { shard: 0, data: Buffer.alloc(0), partitionKey: 'empty' },
        { shard: 0, data: Buffer.from('secret'), partitionKey: 'enc', keyId: 'alias/my-key' },
        { shard: 0, data: big, partitionKey: 'big' },
      ];
      await store.append(doc.key, batch);
      const { records } = await store.read({ streamKey: doc.key, shard: 0, fromPosition: 0, ...allRecords });
      assert.equal(records.length, batch.length);
      records.forEach((r, i) => {
        const sent = batch[i] as AppendEntry;
        assert.equal(r.partitionKey, sent.partitionKey);
        assert.ok(r.data.equals(sent.data), `data of record ${i}`);
        assert.equal(r.keyId, sent.keyId);
      });
    });

    test('read is bounded by count and bytes, and starts at a position', async () => {
      const doc = await create('bounded', 1);
      await store.append(
        doc.key,
        Array.from({ length: 100 }, (_, i) => ({
          shard: 0,
          data: Buffer.alloc(1000, i),
          partitionKey: 'kk',
        })),
      );
      const base = { streamKey: doc.key, shard: 0, minArrivalMs: 0 };
      const five = await store.read({ ...base, fromPosition: 10, maxCount: 5, maxBytes: 1e9 });
      assert.deepEqual(
        five.records.map((r) => r.position),
        [10, 11, 12, 13, 14],
      );
      assert.equal(five.tip.nextPosition, 100);
      // 1002 bytes per record (data and key): 3 fit in 3100.
      const bytes = await store.read({ ...base, fromPosition: 0, maxCount: 100, maxBytes: 3100 });
      assert.equal(bytes.records.length, 3);
      const bytesLong = await store.read({ ...base, fromPosition: 0, maxCount: 1000, maxBytes: 50 * 1002 });
      assert.equal(bytesLong.records.length, 50, 'byte bound on a long read');
      const one = await store.read({ ...base, fromPosition: 0, maxCount: 100, maxBytes: 10 });
      assert.equal(one.records.length, 1, 'at least one record even over the byte bound');
      const long = await store.read({ ...base, fromPosition: 40, maxCount: 1000, maxBytes: 1e9 });
      assert.deepEqual(
        long.records.map((r) => r.position),
        Array.from({ length: 60 }, (_, i) => 40 + i),
      );
      const past = await store.read({ ...base, fromPosition: 100, maxCount: 10, maxBytes: 1e9 });
      assert.deepEqual(past.records, []);
    });

    test('read hides records that arrived before minArrivalMs; positionAt finds the first at or after a time', async () => {
      const doc = await create('times', 1);
      const early = await store.append(doc.key, entries(0, 40, 'early'));
      await sleep(15);
      const late = await store.append(doc.key, entries(0, 40, 'late'));
      const cut = late[0]?.arrivalMs ?? 0;
      assert.ok(cut > (early[39]?.arrivalMs ?? 0));
      const base = { streamKey: doc.key, shard: 0, maxCount: 1000, maxBytes: 1e9 };
      const visible = await store.read({ ...base, fromPosition: 0, minArrivalMs: cut });
      assert.deepEqual(
        visible.records.map((r) => r.data.toString()),
        Array.from({ length: 40 }, (_, i) => `late-${i}`),
      );
      const few = await store.read({ ...base, fromPosition: 0, minArrivalMs: cut, maxCount: 3 });
      assert.deepEqual(
        few.records.map((r) => r.position),
        [40, 41, 42],
      );
      assert.equal(await store.positionAt(doc.key, 0, 0), 0);
      assert.equal(await store.positionAt(doc.key, 0, cut), 40);
      const at = early[10]?.arrivalMs ?? 0;
      assert.equal(
        await store.positionAt(doc.key, 0, at),
        early.findIndex((a) => a.arrivalMs === at),
      );
      assert.equal(
        await store.positionAt(doc.key, 0, Date.now() + 60_000),
        80,
        'the tip when nothing is that late',
      );
      assert.equal(await store.positionAt(doc.key, 1, 0), 0, 'an empty shard');
    });

    test('sealShard refuses later appends whole, is idempotent, and fixes the tip', async () => {
      const doc = await create('seal', 2);
      await store.append(doc.key, [...entries(0, 3, 'x'), ...entries(1, 2, 'y')]);
      const tip = await store.sealShard(doc.key, 0);
      assert.equal(tip.nextPosition, 3);
      assert.equal(tip.sealed, true);
      assert.ok(tip.lastArrivalMs > 0);
      await assert.rejects(store.append(doc.key, entries(0, 1, 'late')), ShardSealedError);
      await assert.rejects(
        store.append(doc.key, [...entries(1, 2, 'mixed'), ...entries(0, 1, 'mixed')]),
        (error: unknown) => error instanceof ShardSealedError && error.shard === 0,
      );
      assert.equal((await store.tip(doc.key, 1)).nextPosition, 2, 'nothing of the refused call was stored');
      assert.deepEqual(await store.sealShard(doc.key, 0), tip, 'idempotent');
      assert.deepEqual(await store.tip(doc.key, 0), tip);
      const { records, tip: readTip } = await store.read({
        streamKey: doc.key,
        shard: 0,
        fromPosition: 0,
        ...allRecords,
      });
      assert.equal(records.length, 3);
      assert.equal(readTip.sealed, true);
      assert.equal(readTip.nextPosition, 3);
      // An empty shard can be sealed too.
      const emptyTip = await store.sealShard(doc.key, 1);
      assert.equal(emptyTip.nextPosition, 2);
      const untouched = await create('seal-empty', 1);
      assert.deepEqual(await store.sealShard(untouched.key, 0), {
        nextPosition: 0,
        lastArrivalMs: 0,
        sealed: true,
      });
      await assert.rejects(store.append(untouched.key, entries(0, 1, 'z')), ShardSealedError);
    });

    test('a seal is ordered with appends issued before and after it', async () => {
      const doc = await create('seal-order', 1);
      const before = store.append(doc.key, entries(0, 50, 'before'));
      const seal = store.sealShard(doc.key, 0);
      const afterSeal = store.append(doc.key, entries(0, 5, 'after'));
      if (backend.frontends) {
        // Calls issued at once through different frontends are not ordered among themselves:
        // each append lands before the seal or is refused (a chain the seal cut in two is refused
        // with the results of what it stored), and the seal ends the shard exactly after them.
        const [b, t, a] = await Promise.allSettled([before, seal, afterSeal]);
        assert.equal(t.status, 'fulfilled');
        const tip = (t as PromiseFulfilledResult<ShardTip>).value;
        const stored = new Set<string>();
        for (const [result, tag, count] of [
          [b, 'before', 50],
          [a, 'after', 5],
        ] as const) {
          if (result.status === 'rejected')
            assert.ok(result.reason instanceof ShardSealedError, String(result.reason));
          const appended: Array<Appended | undefined> =
            result.status === 'fulfilled'
              ? result.value
              : 'appended' in result.reason
                ? result.reason.appended
                : [];
          for (let i = 0; i < count; i++) {
            const one = appended[i];
            if (!one) continue;
            assert.ok(one.position < tip.nextPosition, `${tag}-${i} at ${one.position}, after the seal`);
            stored.add(`${tag}-${i}`);
          }
        }
        const { records } = await store.read({
          streamKey: doc.key,
          shard: 0,
          fromPosition: 0,
          ...allRecords,
        });
        assert.deepEqual(new Set(records.map((r) => r.data.toString())), stored);
        assert.equal(records.length, stored.size);
        assert.equal(tip.nextPosition, stored.size);
        assert.equal(tip.sealed, true);
        // Refused through either frontend.
        await assert.rejects(store.append(doc.key, entries(0, 1, 'late')), ShardSealedError);
        await assert.rejects(store.append(doc.key, entries(0, 1, 'late')), ShardSealedError);
        return;
      }
      const [appended, tip] = await Promise.all([before, seal]);
      await assert.rejects(afterSeal, ShardSealedError);
      assert.equal(appended.length, 50);
      assert.equal(tip.nextPosition, 50);
    });

    test('trim removes records that arrived before a time, bounded, keeping the newest', async () => {
      const doc = await create('trim', 1);
      const old = await store.append(doc.key, entries(0, 30, 'old'));
      await sleep(15);
      const fresh = await store.append(doc.key, entries(0, 5, 'new'));
      const cut = fresh[0]?.arrivalMs ?? 0;
      assert.ok(cut > (old[29]?.arrivalMs ?? 0));
      assert.equal(await store.trim(doc.key, 0, cut, 10), 10, 'bounded by maxRows');
      assert.equal(await store.trim(doc.key, 0, cut, 1000), 20);
      assert.equal(await store.trim(doc.key, 0, cut, 1000), 0);
      const { records } = await store.read({ streamKey: doc.key, shard: 0, fromPosition: 0, ...allRecords });
      assert.deepEqual(
        records.map((r) => r.position),
        [30, 31, 32, 33, 34],
      );
      assert.equal(await store.positionAt(doc.key, 0, 0), 30);
      // Everything expired: the newest record stays, so the next position is kept.
      assert.equal(await store.trim(doc.key, 0, Date.now() + 60_000, 1000), 4);
      assert.deepEqual(
        (await store.read({ streamKey: doc.key, shard: 0, fromPosition: 0, ...allRecords })).records.map(
          (r) => r.position,
        ),
        [34],
      );
      const next = await store.append(doc.key, entries(0, 1, 'next'));
      assert.equal(next[0]?.position, 35);
      assert.equal(await store.trim(doc.key, 1, Date.now(), 10), 0, 'a shard without records');
    });

    test('deleteStream drops the records', async () => {
      const doc = await create('drop', 2);
      await store.append(doc.key, [...entries(0, 5, 'a'), ...entries(1, 5, 'b')]);
      assert.ok(await store.deleteStream('drop', doc.version));
      assert.deepEqual(await store.tip(doc.key, 0), { nextPosition: 0, lastArrivalMs: 0 });
      const { records } = await store.read({ streamKey: doc.key, shard: 1, fromPosition: 0, ...allRecords });
      assert.deepEqual(records, []);
    });
  });
}
