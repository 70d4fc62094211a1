/**
 * A single-node nats-server killed with SIGKILL in the middle of appends and started again: every
 * acknowledged record is there once, at its acknowledged position and arrival time, the writers
 * go on after the restart, and the metadata log is intact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NatsStore } from '../src/store/nats.js';
import type { AppendEntry, Appended, StoredRecord } from '../src/store/store.js';
import { sleep } from './helpers.js';
import { makeDoc, type NatsServers, readToTip, startNats } from './nats-helpers.js';

describe('NATS store: nats-server killed during appends', { timeout: 120_000 }, () => {
  let nats: NatsServers;
  let store: NatsStore;

  before(async () => {
    nats = await startNats();
    store = await NatsStore.open({ servers: nats.servers });
  });
  after(async () => {
    await store?.close();
    await nats?.stop();
  });

  test('acknowledged records survive SIGKILL of the server, once each, where they were acknowledged', async () => {
    const doc = await store.putStream(makeDoc('crash', 2), 0);
    assert.ok(doc);
    const node = nats.nodes[0];
    assert.ok(node);
    const acked: Array<{ data: string; shard: number; appended: Appended }> = [];
    let failed = 0;
    let stop = false;
    const write = async (w: number) => {
      for (let batch = 0; !stop; batch++) {
        const entries: AppendEntry[] = Array.from({ length: 20 }, (_, i) => ({
          shard: i % 2,
          data: Buffer.from(`w${w}-b${batch}-r${i}`),
          partitionKey: `p${i}`,
        }));
        try {
          const out = await store.append(doc.key, entries);
          out.forEach((appended, i) => {
            const entry = entries[i] as AppendEntry;
            acked.push({ data: entry.data.toString(), shard: entry.shard, appended });
          });
        } catch {
          failed++;
          await sleep(50);
        }
      }
    };
    const writers = [write(0), write(1), write(2)];
    await sleep(700);
    const before = acked.length;
    await node.kill();
    await sleep(500);
    await node.restart();
    const until = Date.now() + 30_000;
    while (acked.length < before + 1_000 && Date.now() < until) await sleep(250);
    await sleep(1_000);
    stop = true;
    await Promise.all(writers);
    assert.ok(before > 0);
    assert.ok(acked.length > before, `appends went on after the restart (${before} -> ${acked.length})`);
    for (const shard of [0, 1]) {
      const records = await readToTip(store, doc.key, shard);
      const byData = new Map<string, StoredRecord>();
      for (const r of records) {
        assert.ok(!byData.has(r.data.toString()), `${r.data} stored once`);
        byData.set(r.data.toString(), r);
      }
      for (let i = 1; i < records.length; i++) {
        assert.ok(
          (records[i]?.arrivalMs ?? 0) >= (records[i - 1]?.arrivalMs ?? 0),
          'arrival never decreases',
        );
        assert.equal(records[i]?.position, (records[i - 1]?.position ?? 0) + 1, 'no gap');
      }
      for (const a of acked.filter((x) => x.shard === shard)) {
        const stored = byData.get(a.data);
        assert.equal(stored?.position, a.appended.position, `${a.data} at its acknowledged position`);
        assert.equal(stored?.arrivalMs, a.appended.arrivalMs);
      }
    }
    // The metadata log came back with the server.
    const again = await store.getStream('crash');
    assert.equal(again?.version, doc.version);
    assert.ok(await store.putStream({ ...doc, tags: { after: 'restart' } }, doc.version));
    console.log(`crash: ${acked.length} acknowledged (${before} before the kill), ${failed} calls failed`);
  });
});
