import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ShardTip } from './store.js';

/**
 * The embedded store's SQLite work, synchronous: it runs inside the store's worker thread
 * (src/store/sqlite-worker.ts), never on the event loop that serves requests. src/store/sqlite.ts
 * is the Store the engine sees; it forwards every call here by message.
 */

export interface SqliteCoreOptions {
  /** Folder for the database; undefined keeps everything in memory (lost on exit). */
  dataDir?: string;
  /** fsync the write-ahead log on every commit, so acknowledged records survive power loss. */
  fsync?: boolean;
  /** Overrides of `sqliteTuning`, for measurements (bench/store-probe.ts). */
  tuning?: Partial<Record<keyof typeof sqliteTuning, number>>;
}

/** PRAGMAs applied on open, measured on the store alone (bench/store-probe.ts). */
export const sqliteTuning = {
  /** Checkpoint the WAL every 1,000 pages (4 MiB; SQLite's default). A checkpoint runs inside the
   * commit that crosses it and holds the worker meanwhile: 16,384 pages (64 MiB) saved about 10% of
   * the worker's CPU per record, but each checkpoint then held appends and reads for 100-300 ms
   * (PutRecords p99 at half load 190-330 ms, against 30-100 ms with 1,000, same runs). */
  walAutocheckpointPages: 1_000,
  /** Page cache of 16 MiB (negative = KiB; the default is 2 MB): a group commit (at most 8 MiB,
   * src/limits.ts `sqlite`) fits without spilling pages to the WAL before its commit. 64 MiB
   * saved another 5% of CPU per record but added about 50 MiB of resident memory. */
  cacheSizeKiB: 16_384,
} as const;

/** One append of a batch: records of one stream, data packed in one buffer. */
export interface AppendWork {
  kind: 'append';
  streamKey: number;
  shards: Int32Array;
  lengths: Int32Array;
  data: Buffer;
  /** The partition keys joined, record i's being `keyLengths[i]` UTF-16 units long: one string
   * crosses to the worker instead of one per record. */
  partitionKeys: string;
  keyLengths: Int32Array;
  keyIds?: Array<string | null>;
}

export interface SealWork {
  kind: 'seal';
  streamKey: number;
  shard: number;
}

/** What one append or seal of a batch came to. */
export type WorkResult =
  | { kind: 'appended'; positions: Float64Array; arrivals: Float64Array }
  | { kind: 'sealed'; tip: ShardTip }
  | { kind: 'refused'; shard: number };

/** Records read, packed: data of record i is data[offset_i, offset_i + lengths[i]). */
export interface PackedRead {
  positions: Float64Array;
  arrivals: Float64Array;
  lengths: Int32Array;
  data: ArrayBuffer;
  partitionKeys: string[];
  keyIds?: Array<string | null>;
  tip: ShardTip;
}

const schema = `
CREATE TABLE IF NOT EXISTS streams (name TEXT PRIMARY KEY, version INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sealed (stream INTEGER NOT NULL, shard INTEGER NOT NULL, PRIMARY KEY (stream, shard));
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, version INTEGER NOT NULL, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  stream INTEGER NOT NULL,
  shard INTEGER NOT NULL,
  pos INTEGER NOT NULL,
  arrival INTEGER NOT NULL,
  pk TEXT NOT NULL,
  data BLOB NOT NULL,
  key_id TEXT,
  PRIMARY KEY (stream, shard, pos)
);
`;

export class SqliteCore {
  private readonly db: Database.Database;
  private readonly tips = new Map<string, ShardTip>();
  /** Sealed shards (`stream:shard`), loaded at start and kept with the `sealed` table. */
  private readonly sealed = new Set<string>();
  private readonly stmt;

  constructor(options: SqliteCoreOptions) {
    if (options.dataDir !== undefined) {
      mkdirSync(options.dataDir, { recursive: true });
      this.db = new Database(join(options.dataDir, 'sluice.db'));
    } else {
      this.db = new Database(':memory:');
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.fsync ? 'FULL' : 'NORMAL'}`);
    const tuning = { ...sqliteTuning, ...options.tuning };
    this.db.pragma(`wal_autocheckpoint = ${tuning.walAutocheckpointPages}`);
    this.db.pragma(`cache_size = -${tuning.cacheSizeKiB}`);
    this.db.exec(schema);
    for (const row of this.db
      .prepare<[], { stream: number; shard: number }>('SELECT stream, shard FROM sealed')
      .all()) {
      this.sealed.add(`${row.stream}:${row.shard}`);
    }
    this.stmt = {
      allStreams: this.db.prepare<[], { doc: string; version: number }>('SELECT doc, version FROM streams'),
      streamVersion: this.db.prepare<[string], { version: number }>(
        'SELECT version FROM streams WHERE name = ?',
      ),
      insertStream: this.db.prepare('INSERT INTO streams (name, version, doc) VALUES (?, ?, ?)'),
      updateStream: this.db.prepare('UPDATE streams SET version = ?, doc = ? WHERE name = ? AND version = ?'),
      deleteStream: this.db.prepare('DELETE FROM streams WHERE name = ? AND version = ?'),
      dropRecords: this.db.prepare('DELETE FROM records WHERE stream = ?'),
      dropSealed: this.db.prepare('DELETE FROM sealed WHERE stream = ?'),
      insertSealed: this.db.prepare('INSERT OR IGNORE INTO sealed (stream, shard) VALUES (?, ?)'),
      insertSecret: this.db.prepare('INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)'),
      secret: this.db.prepare<[string], { value: Buffer }>('SELECT value FROM secrets WHERE name = ?'),
      insertRecord: this.db.prepare<[number, number, number, number, string, Buffer, string | null]>(
        'INSERT INTO records (stream, shard, pos, arrival, pk, data, key_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      streamDoc: this.db.prepare<[string], { doc: string; version: number }>(
        'SELECT doc, version FROM streams WHERE name = ?',
      ),
      setting: this.db.prepare<[string], { value: string; version: number }>(
        'SELECT value, version FROM settings WHERE name = ?',
      ),
      insertSetting: this.db.prepare(
        'INSERT OR IGNORE INTO settings (name, version, value) VALUES (?, ?, ?)',
      ),
      updateSetting: this.db.prepare(
        'UPDATE settings SET version = ?, value = ? WHERE name = ? AND version = ?',
      ),
      lastRecord: this.db.prepare<[number, number], { pos: number; arrival: number }>(
        'SELECT pos, arrival FROM records WHERE stream = ? AND shard = ? ORDER BY pos DESC LIMIT 1',
      ),
      firstRecord: this.db.prepare<[number, number], { pos: number; arrival: number }>(
        'SELECT pos, arrival FROM records WHERE stream = ? AND shard = ? ORDER BY pos ASC LIMIT 1',
      ),
      arrivalAt: this.db.prepare<[number, number, number], { arrival: number }>(
        'SELECT arrival FROM records WHERE stream = ? AND shard = ? AND pos = ?',
      ),
      readFrom: this.db.prepare<
        [number, number, number, number, number],
        { pos: number; arrival: number; pk: string; data: Buffer; key_id: string | null }
      >(
        'SELECT pos, arrival, pk, data, key_id FROM records WHERE stream = ? AND shard = ? AND pos >= ? AND arrival >= ? ORDER BY pos LIMIT ?',
      ),
      trimBelow: this.db.prepare(
        'DELETE FROM records WHERE stream = ? AND shard = ? AND pos >= ? AND pos < ?',
      ),
      streamDocOnly: this.db.prepare<[string], { doc: string }>('SELECT doc FROM streams WHERE name = ?'),
    };
  }

  loadStreams(): Array<{ doc: string; version: number }> {
    return this.stmt.allStreams.all();
  }

  /** Compare-and-set of a stream document (already serialised, without its version). */
  putStream(name: string, json: string, expectedVersion: number): boolean {
    const version = expectedVersion + 1;
    return expectedVersion === 0
      ? this.db.transaction(() => {
          if (this.stmt.streamVersion.get(name)) return false;
          this.stmt.insertStream.run(name, version, json);
          return true;
        })()
      : this.stmt.updateStream.run(version, json, name, expectedVersion).changes === 1;
  }

  /** Compare-and-delete; resolves to the deleted stream's key, or undefined. */
  deleteStream(name: string, expectedVersion: number): number | undefined {
    const row = this.stmt.streamDocOnly.get(name);
    if (!row) return undefined;
    const key = (JSON.parse(row.doc) as { key: number }).key;
    const ok = this.db.transaction(() => {
      if (this.stmt.deleteStream.run(name, expectedVersion).changes !== 1) return false;
      this.stmt.dropRecords.run(key);
      this.stmt.dropSealed.run(key);
      return true;
    })();
    if (!ok) return undefined;
    for (const k of this.tips.keys()) if (k.startsWith(`${key}:`)) this.tips.delete(k);
    for (const k of this.sealed) if (k.startsWith(`${key}:`)) this.sealed.delete(k);
    return key;
  }

  getStream(name: string): { doc: string; version: number } | undefined {
    return this.stmt.streamDoc.get(name);
  }

  getSetting(name: string): { value: string; version: number } | undefined {
    return this.stmt.setting.get(name);
  }

  putSetting(name: string, json: string, expectedVersion: number): boolean {
    const version = expectedVersion + 1;
    return expectedVersion === 0
      ? this.stmt.insertSetting.run(name, version, json).changes === 1
      : this.stmt.updateSetting.run(version, json, name, expectedVersion).changes === 1;
  }

  secret(name: string, sizeBytes: number): Buffer {
    this.stmt.insertSecret.run(name, randomBytes(sizeBytes));
    const row = this.stmt.secret.get(name);
    if (!row) throw new Error(`secret ${name} missing after insert`);
    return row.value;
  }

  private tipOf(streamKey: number, shard: number): ShardTip {
    const key = `${streamKey}:${shard}`;
    let tip = this.tips.get(key);
    if (!tip) {
      const last = this.stmt.lastRecord.get(streamKey, shard);
      tip = last
        ? { nextPosition: last.pos + 1, lastArrivalMs: last.arrival }
        : { nextPosition: 0, lastArrivalMs: 0 };
      if (this.sealed.has(key)) tip.sealed = true;
      this.tips.set(key, tip);
    }
    return tip;
  }

  tip(streamKey: number, shard: number): ShardTip {
    return { ...this.tipOf(streamKey, shard) };
  }

  /**
   * Commit appends and seals, in order, in one transaction (group commit). An append that names a
   * shard sealed before it (in this batch or earlier) is refused whole, before any of its entries
   * is written. Throws (and changes nothing) if the transaction fails.
   */
  commit(batch: Array<AppendWork | SealWork>): WorkResult[] {
    const now = Date.now();
    const touched = new Map<string, ShardTip>();
    const sealedNow = new Set<string>();
    const tipFor = (streamKey: number, shard: number): ShardTip => {
      const key = `${streamKey}:${shard}`;
      let tip = touched.get(key);
      if (!tip) {
        tip = { ...this.tipOf(streamKey, shard) };
        touched.set(key, tip);
      }
      return tip;
    };
    const insert = this.stmt.insertRecord;
    const results = this.db.transaction(() =>
      batch.map((item): WorkResult => {
        if (item.kind === 'seal') {
          const tip = tipFor(item.streamKey, item.shard);
          tip.sealed = true;
          this.stmt.insertSealed.run(item.streamKey, item.shard);
          sealedNow.add(`${item.streamKey}:${item.shard}`);
          return { kind: 'sealed', tip: { ...tip } };
        }
        const count = item.shards.length;
        for (let i = 0; i < count; i++) {
          const shard = item.shards[i] as number;
          if (tipFor(item.streamKey, shard).sealed) return { kind: 'refused', shard };
        }
        const positions = new Float64Array(count);
        const arrivals = new Float64Array(count);
        let offset = 0;
        let keyOffset = 0;
        for (let i = 0; i < count; i++) {
          const tip = tipFor(item.streamKey, item.shards[i] as number);
          const length = item.lengths[i] as number;
          const keyEnd = keyOffset + (item.keyLengths[i] as number);
          const position = tip.nextPosition;
          const arrivalMs = Math.max(now, tip.lastArrivalMs);
          insert.run(
            item.streamKey,
            item.shards[i] as number,
            position,
            arrivalMs,
            item.partitionKeys.slice(keyOffset, keyEnd),
            item.data.subarray(offset, offset + length),
            item.keyIds?.[i] ?? null,
          );
          offset += length;
          keyOffset = keyEnd;
          tip.nextPosition = position + 1;
          tip.lastArrivalMs = arrivalMs;
          positions[i] = position;
          arrivals[i] = arrivalMs;
        }
        return { kind: 'appended', positions, arrivals };
      }),
    )();
    for (const [key, tip] of touched) this.tips.set(key, tip);
    for (const key of sealedNow) this.sealed.add(key);
    return results;
  }

  read(
    streamKey: number,
    shard: number,
    fromPosition: number,
    minArrivalMs: number,
    maxCount: number,
    maxBytes: number,
  ): PackedRead {
    const rows: Array<{ pos: number; arrival: number; pk: string; data: Buffer; key_id: string | null }> = [];
    let bytes = 0;
    let dataBytes = 0;
    let encrypted = false;
    for (const row of this.stmt.readFrom.iterate(streamKey, shard, fromPosition, minArrivalMs, maxCount)) {
      const size = row.data.length + Buffer.byteLength(row.pk);
      if (rows.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      dataBytes += row.data.length;
      if (row.key_id !== null) encrypted = true;
      rows.push(row);
    }
    const count = rows.length;
    const positions = new Float64Array(count);
    const arrivals = new Float64Array(count);
    const lengths = new Int32Array(count);
    const data = new ArrayBuffer(dataBytes);
    const bytesView = new Uint8Array(data);
    const partitionKeys = new Array<string>(count);
    let offset = 0;
    rows.forEach((row, i) => {
      positions[i] = row.pos;
      arrivals[i] = row.arrival;
      lengths[i] = row.data.length;
      bytesView.set(row.data, offset);
      offset += row.data.length;
      partitionKeys[i] = row.pk;
    });
    const packed: PackedRead = {
      positions,
      arrivals,
      lengths,
      data,
      partitionKeys,
      tip: this.tip(streamKey, shard),
    };
    if (encrypted) packed.keyIds = rows.map((row) => row.key_id);
    return packed;
  }

  positionAt(streamKey: number, shard: number, timestampMs: number): number {
    const tip = this.tipOf(streamKey, shard);
    const first = this.stmt.firstRecord.get(streamKey, shard);
    if (!first || tip.lastArrivalMs < timestampMs) return tip.nextPosition;
    // Arrival times never decrease with position, and positions are contiguous from the first
    // retained record to the tip, so a binary search over positions finds the first match.
    let low = first.pos;
    let high = tip.nextPosition - 1;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const row = this.stmt.arrivalAt.get(streamKey, shard, mid);
      if (row && row.arrival >= timestampMs) high = mid;
      else low = mid + 1;
    }
    return low;
  }

  trim(streamKey: number, shard: number, beforeMs: number, maxRows: number): number {
    const first = this.stmt.firstRecord.get(streamKey, shard);
    if (!first) return 0;
    // The newest record is always kept so the shard's next position survives a restart.
    const tip = this.tipOf(streamKey, shard);
    const cut = Math.min(
      this.positionAt(streamKey, shard, beforeMs),
      tip.nextPosition - 1,
      first.pos + maxRows,
    );
    if (cut <= first.pos) return 0;
    return this.stmt.trimBelow.run(streamKey, shard, first.pos, cut).changes;
  }

  close(): void {
    this.db.close();
  }
}
