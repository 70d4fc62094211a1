/**
 * The embedded store keeps records in chunks (src/store/chunks.ts): what the store conformance
 * suite does not reach: appends larger than a chunk, reads that start and stop inside chunks,
 * key ids through a trim that splits a chunk, a restart, and the one-time conversion of a
 * database written with one row per record.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { sqlite as bounds } from '../src/limits.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { AppendEntry, StoredRecord } from '../src/store/store.js';
import { makeDoc } from './nats-helpers.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-chunks-'));
  dirs.push(dir);
  return dir;
}

/** Record i of a test: its data is `size` bytes of i's pattern, its key shows i. */
function record(shard: number, i: number, size: number, keyId?: string): AppendEntry {
  const entry: AppendEntry = { shard, data: Buffer.alloc(size, `${i}:`), partitionKey: `key-${i}-ü` };
  if (keyId !== undefined) entry.keyId = keyId;
  return entry;
}

function summary(records: StoredRecord[]): Array<[number, string, number, string | undefined]> {
  return records.map((r) => [r.position, r.partitionKey, r.data.length, r.keyId]);
}

const everything = { minArrivalMs: 0, maxCount: 100_000, maxBytes: 1e12 };

describe('SQLite store chunks', () => {
  test('an append larger than a chunk reads back record by record, from any position', async () => {
    const store = await SqliteStore.open({});
    try {
      const doc = await store.putStream(makeDoc('big', 2), 0);
      assert.ok(doc);
      const size = 100 * 1024;
      const count = Math.ceil((3 * bounds.chunkMaxBytes) / size) + 1; // spans at least four chunks
      const entries: AppendEntry[] = [];
      for (let i = 0; i < count; i++) entries.push(record(i % 2, i, size));
      const appended = await store.append(doc.key, entries);
      const onShard0 = entries.map((e, i) => ({ e, i })).filter(({ e }) => e.shard === 0);
      assert.deepEqual(
        onShard0.map(({ i }) => appended[i]?.position),
        onShard0.map((_, n) => n),
      );
      for (let from = 0; from < onShard0.length; from++) {
        const one = await store.read({
          ...everything,
          streamKey: doc.key,
          shard: 0,
          fromPosition: from,
          maxCount: 1,
        });
        const expected = onShard0[from]?.e;
        assert.equal(one.records.length, 1);
        assert.equal(one.records[0]?.position, from);
        assert.equal(one.records[0]?.partitionKey, expected?.partitionKey);
        assert.ok(one.records[0]?.data.equals(expected?.data ?? Buffer.alloc(0)));
      }
      // A byte bound stops a read inside a chunk; the next read goes on from there.
      const some = await store.read({
        ...everything,
        streamKey: doc.key,
        shard: 0,
        fromPosition: 1,
        maxBytes: 3 * size + 100,
      });
      assert.deepEqual(
        some.records.map((r) => r.position),
        [1, 2, 3],
      );
      const all = await store.read({ ...everything, streamKey: doc.key, shard: 0, fromPosition: 0 });
      assert.equal(all.records.length, onShard0.length);
      assert.equal(all.tip.nextPosition, onShard0.length);
      const past = await store.read({ ...everything, streamKey: doc.key, shard: 0, fromPosition: 1000 });
      assert.deepEqual(past.records, []);
    } finally {
      await store.close();
    }
  });

  test('key ids survive a trim that splits a chunk, and a restart', async () => {
    const dataDir = tempDir();
    let store = await SqliteStore.open({ dataDir });
    const doc = await store.putStream(makeDoc('keys', 1), 0);
    assert.ok(doc);
    const first = await store.append(
      doc.key,
      Array.from({ length: 10 }, (_, i) => record(0, i, 10, i % 3 === 0 ? `key/${i}` : undefined)),
    );
    await new Promise((resolve) => setTimeout(resolve, 15));
    await store.append(doc.key, [record(0, 10, 10)]);
    const cut = (first[9]?.arrivalMs ?? 0) + 1;
    assert.equal(await store.trim(doc.key, 0, cut, 4), 4, 'a bounded trim stops inside the chunk');
    const expected: Array<[number, string, number, string | undefined]> = [
      [4, 'key-4-ü', 10, undefined],
      [5, 'key-5-ü', 10, undefined],
      [6, 'key-6-ü', 10, 'key/6'],
      [7, 'key-7-ü', 10, undefined],
      [8, 'key-8-ü', 10, undefined],
      [9, 'key-9-ü', 10, 'key/9'],
      [10, 'key-10-ü', 10, undefined],
    ];
    const read = () => store.read({ ...everything, streamKey: doc.key, shard: 0, fromPosition: 0 });
    assert.deepEqual(summary((await read()).records), expected);
    assert.equal(await store.positionAt(doc.key, 0, 0), 4);
    await store.close();
    store = await SqliteStore.open({ dataDir });
    try {
      assert.deepEqual(summary((await read()).records), expected);
      assert.equal((await store.tip(doc.key, 0)).nextPosition, 11);
      const next = await store.append(doc.key, [record(0, 11, 10)]);
      assert.equal(next[0]?.position, 11);
    } finally {
      await store.close();
    }
  });

  test('a database written with one row per record is converted on open', async () => {
    const dataDir = tempDir();
    const store = await SqliteStore.open({ dataDir });
    const doc = await store.putStream(makeDoc('old', 2), 0);
    assert.ok(doc);
    await store.close();
    // Make the file what an earlier Sluice wrote: no chunks, a `records` table.
    const db = new Database(join(dataDir, 'sluice.db'));
    db.exec(`DROP TABLE chunks;
      CREATE TABLE records (stream INTEGER NOT NULL, shard INTEGER NOT NULL, pos INTEGER NOT NULL,
        arrival INTEGER NOT NULL, pk TEXT NOT NULL, data BLOB NOT NULL, key_id TEXT,
        PRIMARY KEY (stream, shard, pos));`);
    const insert = db.prepare('INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)');
    const base = Date.now() - 60_000;
    // Shard 0: positions 5..254 (0..4 trimmed), three commits' arrival times; shard 1: one record.
    for (let pos = 5; pos < 255; pos++) {
      const arrival = base + (pos < 100 ? 0 : pos < 200 ? 1000 : 2000);
      insert.run(doc.key, 0, pos, arrival, `pk-${pos}`, Buffer.from(`data-${pos}`), pos === 7 ? 'k7' : null);
    }
    insert.run(doc.key, 1, 0, base, 'only', Buffer.from('one'), null);
    db.close();

    const reopened = await SqliteStore.open({ dataDir });
    try {
      const shard0 = await reopened.read({ ...everything, streamKey: doc.key, shard: 0, fromPosition: 0 });
      assert.equal(shard0.records.length, 250);
      shard0.records.forEach((r, i) => {
        const pos = 5 + i;
        assert.equal(r.position, pos);
        assert.equal(r.partitionKey, `pk-${pos}`);
        assert.equal(r.data.toString(), `data-${pos}`);
        assert.equal(r.arrivalMs, base + (pos < 100 ? 0 : pos < 200 ? 1000 : 2000));
        assert.equal(r.keyId, pos === 7 ? 'k7' : undefined);
      });
      assert.equal(await reopened.positionAt(doc.key, 0, base + 1), 100);
      assert.equal(await reopened.positionAt(doc.key, 0, base + 1001), 200);
      const next = await reopened.append(doc.key, [record(0, 0, 1), record(1, 1, 1)]);
      assert.deepEqual(
        next.map((a) => a.position),
        [255, 1],
      );
    } finally {
      await reopened.close();
    }
    const check = new Database(join(dataDir, 'sluice.db'), { readonly: true });
    const left = check
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'records'")
      .get();
    check.close();
    assert.equal(left, undefined, 'the old table is gone');
  });
});
