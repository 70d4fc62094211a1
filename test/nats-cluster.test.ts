/**
 * The NATS store on a 3-node cluster (streams with 3 replicas), one store per node: compare-and-
 * set loses no update (expected-last-subject-sequence does on 2.9 replicated streams), appends of
 * three frontends to one shard interleave correctly, and killing the shard's leader in the middle
 * of appends loses no acknowledged record and stores none twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { NatsStore } from '../src/store/nats.js';
import type { AppendEntry, Appended, StreamDoc } from '../src/store/store.js';
import { sleep } from './helpers.js';
import { makeDoc, type NatsServers, readToTip, startNatsCluster } from './nats-helpers.js';

describe('NATS store on a 3-node cluster (R3)', { timeout: 180_000 }, () => {
  let cluster: NatsServers;
  let stores: NatsStore[] = [];

  before(async () => {
    cluster = await startNatsCluster(3);
    // One frontend per node, each knowing only its own node (it learns the others from it).
    stores = await Promise.all(
      cluster.nodes.map((n) => NatsStore.open({ servers: [`127.0.0.1:${n.port}`] })),
    );
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await cluster?.stop();
  });

  test('streams are replicated three times', () => {
    for (const store of stores) assert.equal(store.replicas, 3);
  });

  test('concurrent compare-and-set from three frontends loses no update', async () => {
    const [a] = stores as [NatsStore];
    const start = await a.putStream({ ...makeDoc('counter', 1), tags: { n: '0' } }, 0);
    assert.ok(start);
    let wins = 0;
    await Promise.all(
      [...stores, ...stores].map(async (store) => {
        for (let i = 0; i < 15; i++) {
          const current = (await store.getStream('counter')) as StreamDoc;
          const next = { ...current, tags: { n: String(Number(current.tags.n) + 1) } };
          if (await store.putStream(next, current.version)) wins++;
        }
      }),
    );
    assert.ok(wins > 0);
    for (const store of stores) assert.equal((await store.getStream('counter'))?.tags.n, String(wins));
  });

  test('appends of three frontends to one shard interleave without gaps', async () => {
    const [a] = stores as [NatsStore];
    const doc = await a.putStream(makeDoc('interleave', 1), 0);
    assert.ok(doc);
    const calls = await Promise.all(
      Array.from({ length: 12 }, (_, c) =>
        (stores[c % 3] as NatsStore).append(
          doc.key,
          Array.from({ length: 40 }, (_, i) => ({
            shard: 0,
            data: Buffer.from(`${c}-${i}`),
            partitionKey: 'k',
          })),
        ),
      ),
    );
    const records = await readToTip(a, doc.key);
    assert.deepEqual(
      records.map((r) => r.position),
      Array.from({ length: 480 }, (_, i) => i),
    );
    for (let i = 1; i < records.length; i++)
      assert.ok((records[i]?.arrivalMs ?? 0) >= (records[i - 1]?.arrivalMs ?? 0));
    calls.forEach((call, c) => {
      call.forEach((appended, i) => {
        assert.equal(records[appended.position]?.data.toString(), `${c}-${i}`);
      });
    });
  });

  test("killing the shard's leader during appends loses no acknowledged record and stores none twice", async () => {
    const [a] = stores as [NatsStore];
    const doc = await a.putStream(makeDoc('failover', 1), 0);
    assert.ok(doc);
    const stream = `sluice_r_${doc.key}_0`;
    const nc = await connect({ servers: cluster.servers });
    const info = JSON.parse(
      (await nc.request(`$JS.API.STREAM.INFO.${stream}`, '', { timeout: 5_000 })).string(),
    ) as {
      cluster: { leader: string };
    };
    await nc.close();
    const leader = cluster.nodes.find((n) => n.name === info.cluster.leader);
    assert.ok(leader, `leader ${info.cluster.leader} is one of ours`);
    const writers = stores.filter((_, i) => cluster.nodes[i] !== leader);
    const acked: Array<{ data: string; appended: Appended; atMs: number }> = [];
    let failed = 0;
    let stop = false;
    const write = async (store: NatsStore, w: number) => {
      for (let batch = 0; !stop; batch++) {
        const entries: AppendEntry[] = Array.from({ length: 20 }, (_, i) => ({
          shard: 0,
          data: Buffer.from(`w${w}-b${batch}-r${i}`),
          partitionKey: `p${i}`,
        }));
        try {
          const out = await store.append(doc.key, entries);
          const atMs = Date.now();
          out.forEach((appended, i) => {
            acked.push({ data: (entries[i] as AppendEntry).data.toString(), appended, atMs });
          });
        } catch {
          failed++;
        }
      }
    };
    const running = writers.map((store, w) => write(store, w));
    await sleep(500);
    const before = acked.length;
    const killedMs = Date.now();
    await leader.kill();
    // A 2.9 cluster takes several seconds to notice and elect a new stream leader.
    const until = Date.now() + 30_000;
    while (acked.length < before + 1_000 && Date.now() < until) await sleep(250);
    await sleep(1_000);
    stop = true;
    await Promise.all(running);
    assert.ok(
      acked.length > before,
      `appends went on after the leader was killed (${before} -> ${acked.length})`,
    );
    const records = await readToTip(writers[0] as NatsStore, doc.key);
    const count = new Map<string, number>();
    for (const r of records) count.set(r.data.toString(), (count.get(r.data.toString()) ?? 0) + 1);
    for (const a of acked) {
      assert.equal(count.get(a.data), 1, `${a.data} stored once`);
      const stored = records.find((r) => r.position === a.appended.position);
      assert.equal(stored?.data.toString(), a.data, `${a.data} at its acknowledged position`);
      assert.equal(stored?.arrivalMs, a.appended.arrivalMs);
    }
    for (let i = 1; i < records.length; i++) {
      assert.ok((records[i]?.arrivalMs ?? 0) >= (records[i - 1]?.arrivalMs ?? 0), 'arrival never decreases');
      assert.equal(records[i]?.position, (records[i - 1]?.position ?? 0) + 1, 'no gap');
    }
    const resumed = acked.find((x) => x.atMs > killedMs + 100 && acked.indexOf(x) >= before);
    console.log(
      `failover: ${acked.length} acknowledged (${before} before the kill), ${failed} calls failed, ` +
        `${records.length} stored; first acknowledgement ${resumed ? resumed.atMs - killedMs : '?'} ms after the kill`,
    );
    await leader.restart();
  });
});
