/**
 * Leases and heartbeats of the Store contract over NATS: two NatsStore instances on one
 * nats-server (two frontends) race for the same lease, learn of each other's takeovers through
 * the watch, and count each other through heartbeats; the SQLite store's leases behave the same
 * within its one process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fleet } from '../src/limits.js';
import { NatsStore } from '../src/store/nats.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Lease, LeaseBody, Store } from '../src/store/store.js';
import { sleep } from './helpers.js';
import { type NatsServers, startNats, startNatsCluster } from './nats-helpers.js';

/** Take the lease if it is free or expired (what the owner lease does). */
function acquire(holder: string, ttlMs: number) {
  return (current: Lease | undefined): LeaseBody | undefined => {
    const now = Date.now();
    if (current && current.holder !== holder && current.expiresMs > now) return undefined;
    return { holder, acquiredMs: now, expiresMs: now + ttlMs };
  };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function contract(a: Store, b: Store, name: string): Promise<void> {
  // Many concurrent takers on two frontends: exactly one wins, every other is told who holds it.
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).updateLease(name, acquire(`h${i}`, 60_000))),
  );
  const winners = results.filter((r) => r.written);
  assert.equal(winners.length, 1, 'one taker wins');
  const holder = winners[0]?.lease?.holder;
  for (const r of results) assert.equal(r.lease?.holder, holder, 'every taker sees the winner');
  // A holder renews its own lease; another cannot take it before it expires.
  const renewed = await a.updateLease(name, acquire(holder as string, 60_000));
  assert.equal(renewed.written, true);
  assert.equal((await b.updateLease(name, acquire('late', 60_000))).written, false);
  // Expiry is the time in the entry: an expired lease is free for anyone.
  const seen: Lease[] = [];
  const unwatch = a.watchLeases((lease) => {
    if (lease.name === name) seen.push(lease);
  });
  await b.updateLease(name, (current) => current && { ...current, expiresMs: Date.now() - 1 });
  const taken = await b.updateLease(name, acquire('taker', 60_000));
  assert.equal(taken.written, true);
  await until(() => seen.some((l) => l.holder === 'taker'), 'the takeover reaches the other frontend');
  assert.equal(a.peekLease(name)?.holder, 'taker');
  unwatch();
}

describe('leases on the embedded store', () => {
  test('compare-and-set, renewal, expiry and watch in one process', async () => {
    const store = new SqliteStore({});
    try {
      await contract(store, store, 'owner');
      assert.equal(await store.heartbeat('x'), 1, 'one process is the whole fleet');
    } finally {
      await store.close();
    }
  });
});

describe('leases and heartbeats over NATS: two frontends', { timeout: 120_000 }, () => {
  let nats: NatsServers;
  let a: NatsStore;
  let b: NatsStore | undefined;

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

  test('one winner among concurrent takers, renewal, expiry, takeover seen through the watch', async () => {
    await contract(a, b as NatsStore, 'owner');
    // A third frontend starting now sees the current entry (replayed from the store).
    const c = await NatsStore.open({ servers: nats.servers });
    try {
      assert.equal(c.peekLease('owner')?.holder, 'taker');
    } finally {
      await c.close();
    }
  });

  test('heartbeats count the live frontends; a silent one stops counting after the TTL', async () => {
    assert.equal(await a.heartbeat('frontend-a'), 1);
    assert.equal(await (b as NatsStore).heartbeat('frontend-b'), 2);
    assert.equal(await a.heartbeat('frontend-a'), 2);
    // A frontend that stops takes its heartbeat out: counted no more at once.
    assert.equal(await (b as NatsStore).heartbeat('frontend-b', true), 1);
    assert.equal(await a.heartbeat('frontend-a'), 1);
    assert.equal(await (b as NatsStore).heartbeat('frontend-b'), 2);
    await (b as NatsStore).close();
    b = undefined;
    // a goes on beating; b's entry expires with the heartbeat stream's max_age.
    await until(
      async () => (await a.heartbeat('frontend-a')) === 1,
      'the stopped frontend to drop out',
      fleet.heartbeatTtlMs * 4,
    );
  });
});

describe('leases on a 3-node cluster (R3): one store per node', { timeout: 180_000 }, () => {
  let cluster: NatsServers;
  let stores: NatsStore[] = [];

  before(async () => {
    cluster = await startNatsCluster(3);
    stores = await Promise.all(
      cluster.nodes.map((n) => NatsStore.open({ servers: [`127.0.0.1:${n.port}`] })),
    );
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await cluster?.stop();
  });

  test('concurrent read-modify-writes of one lease from three frontends lose no update', async () => {
    // The entry's acquiredMs serves as a counter: each write adds one to what its decision saw.
    const per = 15;
    await Promise.all(
      stores.map(async (store, i) => {
        for (let k = 0; k < per; k++) {
          const { written } = await store.updateLease('counter', (current) => ({
            holder: `s${i}`,
            acquiredMs: (current?.acquiredMs ?? 0) + 1,
            expiresMs: 0,
          }));
          assert.equal(written, true);
        }
      }),
    );
    for (const store of stores) {
      await until(
        () => store.peekLease('counter')?.acquiredMs === per * stores.length,
        'every view to converge',
      );
    }
  });

  test('heartbeats count the three frontends', async () => {
    await Promise.all(stores.map((s, i) => s.heartbeat(`f${i}`)));
    for (const [i, s] of stores.entries()) assert.equal(await s.heartbeat(`f${i}`), 3);
  });
});
