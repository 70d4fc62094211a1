import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sqlite as bounds } from '../limits.js';
import { ChunkBuilder, offsetOf, type RecordSpan, spanAt } from './chunks.js';
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
  /** Pages of 64 KiB, SQLite's largest (its default is 4 KiB): records are stored in chunks of up
   * to 256 KiB (src/store/chunks.ts), and SQLite writes the WAL and checkpoints page by page, so
   * larger pages mean a sixteenth of the system calls. Store alone, 16 appenders of 500 x 1 KiB:
   * 3.6 us of CPU per record with 4 KiB pages, 2.1-2.5 us with 64 KiB, same run. Takes effect
   * only when the database file is created; an existing file keeps its page size. */
  pageSizeBytes: 65_536,
  /** SQLite checkpoints the WAL inside the commit that crosses 4 MiB of it (its default amount
   * with its default pages). Each checkpoint syncs the WAL and the database file, and the
   * writer's next WAL writes wait for that I/O. A checkpointer thread of its own connection
   * running a PASSIVE checkpoint every 25 ms was measured against this and made the tail worse
   * (PutRecords p99 at 90,000 records/s: 27.6-41.7 ms with it, 16.2-19.0 ms with this, three pairs
   * side by side): forty checkpoints a second stall the writer more often. At 64 MiB (measured
   * with 4 KiB pages), each checkpoint held appends and reads for 100-300 ms. */
  walAutocheckpointBytes: 4 * 1024 * 1024,
  /** The WAL file is cut back to this size when it starts over after growing past it. */
  walFileLimitBytes: 16 * 1024 * 1024,
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
CREATE TABLE IF NOT EXISTS chunks (
  stream INTEGER NOT NULL,
  shard INTEGER NOT NULL,
  first_pos INTEGER NOT NULL,
  count INTEGER NOT NULL,
  arrival INTEGER NOT NULL,
  key_ids TEXT,
  body BLOB NOT NULL,
  PRIMARY KEY (stream, shard, first_pos)
);
`;

/** One stored chunk's row (src/store/chunks.ts has the body's layout). */
interface ChunkRow {
  first_pos: number;
  count: number;
  arrival: number;
  key_ids: string | null;
  body: Buffer;
}

type ChunkHead = Omit<ChunkRow, 'key_ids' | 'body'>;

export class SqliteCore {
  private readonly db: Database.Database;
  private readonly tips = new Map<string, ShardTip>();
  /** Sealed shards (`stream:shard`), loaded at start and kept with the `sealed` table. */
  private readonly sealed = new Set<string>();
  private readonly stmt;
  /** Where chunks are encoded before their insert (src/store/chunks.ts). */
  private readonly scratch = Buffer.allocUnsafe(bounds.chunkMaxBytes);

  constructor(options: SqliteCoreOptions) {
    if (options.dataDir !== undefined) {
      mkdirSync(options.dataDir, { recursive: true });
      this.db = new Database(join(options.dataDir, 'sluice.db'));
    } else {
      this.db = new Database(':memory:');
    }
    const tuning = { ...sqliteTuning, ...options.tuning };
    // Takes effect only for a new database file (before its first table); an existing one keeps its own.
    this.db.pragma(`page_size = ${tuning.pageSizeBytes}`);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.fsync ? 'FULL' : 'NORMAL'}`);
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    this.db.pragma(
      `wal_autocheckpoint = ${Math.max(1, Math.round(tuning.walAutocheckpointBytes / pageSize))}`,
    );
    this.db.pragma(`journal_size_limit = ${tuning.walFileLimitBytes}`);
    this.db.pragma(`cache_size = -${tuning.cacheSizeKiB}`);
    this.db.exec(schema);
    this.migrateRecordsTable();
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
      dropRecords: this.db.prepare('DELETE FROM chunks WHERE stream = ?'),
      dropSealed: this.db.prepare('DELETE FROM sealed WHERE stream = ?'),
      insertSealed: this.db.prepare('INSERT OR IGNORE INTO sealed (stream, shard) VALUES (?, ?)'),
      insertSecret: this.db.prepare('INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)'),
      secret: this.db.prepare<[string], { value: Buffer }>('SELECT value FROM secrets WHERE name = ?'),
      insertChunk: this.db.prepare<[number, number, number, number, number, string | null, Buffer]>(
        'INSERT INTO chunks (stream, shard, first_pos, count, arrival, key_ids, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
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
      lastChunk: this.db.prepare<[number, number], ChunkHead>(
        'SELECT first_pos, count, arrival FROM chunks WHERE stream = ? AND shard = ? ORDER BY first_pos DESC LIMIT 1',
      ),
      firstChunk: this.db.prepare<[number, number], ChunkHead>(
        'SELECT first_pos, count, arrival FROM chunks WHERE stream = ? AND shard = ? ORDER BY first_pos ASC LIMIT 1',
      ),
      /** The chunk holding a position, if any holds it: the last one starting at or before it. */
      chunkHeadAt: this.db.prepare<[number, number, number], ChunkHead>(
        'SELECT first_pos, count, arrival FROM chunks WHERE stream = ? AND shard = ? AND first_pos <= ? ORDER BY first_pos DESC LIMIT 1',
      ),
      chunkAt: this.db.prepare<[number, number, number], ChunkRow>(
        'SELECT first_pos, count, arrival, key_ids, body FROM chunks WHERE stream = ? AND shard = ? AND first_pos <= ? ORDER BY first_pos DESC LIMIT 1',
      ),
      chunksFrom: this.db.prepare<[number, number, number, number], ChunkRow>(
        'SELECT first_pos, count, arrival, key_ids, body FROM chunks WHERE stream = ? AND shard = ? AND first_pos >= ? AND arrival >= ? ORDER BY first_pos',
      ),
      /** Chunks wholly below a position. */
      dropChunksBelow: this.db.prepare<[number, number, number, number]>(
        'DELETE FROM chunks WHERE stream = ? AND shard = ? AND first_pos < ? AND first_pos + count <= ?',
      ),
      dropChunk: this.db.prepare<[number, number, number]>(
        'DELETE FROM chunks WHERE stream = ? AND shard = ? AND first_pos = ?',
      ),
      streamDocOnly: this.db.prepare<[string], { doc: string }>('SELECT doc FROM streams WHERE name = ?'),
    };
  }

  /**
   * A database written before chunks (a `records` table, one row per record) is converted on
   * open, once, in one transaction: each run of records of a shard with one arrival time becomes
   * chunks. Read a page at a time (better-sqlite3 runs one statement at a time per connection).
   */
  private migrateRecordsTable(): void {
    const found = this.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'records'")
      .get();
    if (!found) return;
    type OldRow = { pos: number; arrival: number; pk: string; data: Buffer; key_id: string | null };
    const shards = this.db
      .prepare<[], { stream: number; shard: number }>('SELECT DISTINCT stream, shard FROM records')
      .all();
    const page = this.db.prepare<[number, number, number], OldRow>(
      `SELECT pos, arrival, pk, data, key_id FROM records WHERE stream = ? AND shard = ? AND pos >= ? ORDER BY pos LIMIT ${bounds.migrationPageRows}`,
    );
    const insert = this.db.prepare<[number, number, number, number, number, string | null, Buffer]>(
      'INSERT INTO chunks (stream, shard, first_pos, count, arrival, key_ids, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const { stream, shard } of shards) {
        let chunk: ChunkBuilder | undefined;
        const flush = (): void => {
          if (!chunk) return;
          const { body, keyIds } = chunk.encode();
          insert.run(stream, shard, chunk.firstPosition, chunk.records.length, chunk.arrivalMs, keyIds, body);
        };
        let from = 0;
        for (;;) {
          const rows = page.all(stream, shard, from);
          for (const row of rows) {
            const continues =
              chunk !== undefined &&
              row.pos === chunk.firstPosition + chunk.records.length &&
              row.arrival === chunk.arrivalMs &&
              chunk.bytes + row.data.length <= bounds.chunkMaxBytes;
            if (!continues) {
              flush();
              chunk = new ChunkBuilder(row.pos, row.arrival);
            }
            chunk?.add({ data: row.data, partitionKey: row.pk, keyId: row.key_id });
            from = row.pos + 1;
          }
          if (rows.length < bounds.migrationPageRows) break;
        }
        flush();
      }
      this.db.exec('DROP TABLE records');
    })();
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
      const last = this.stmt.lastChunk.get(streamKey, shard);
      tip = last
        ? { nextPosition: last.first_pos + last.count, lastArrivalMs: last.arrival }
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
   * is written. The records each shard got in the batch are written as chunks (src/store/chunks.ts)
   * of at most `sqlite.chunkMaxBytes`. Throws (and changes nothing) if the transaction fails.
   */
  commit(batch: Array<AppendWork | SealWork>): WorkResult[] {
    const now = Date.now();
    /** Each shard the batch touches (`stream:shard`): its tip as the batch moves it, and the chunk
     * being filled with its records. */
    const touched = new Map<
      string,
      { streamKey: number; shard: number; tip: ShardTip; chunk?: ChunkBuilder }
    >();
    const sealedNow = new Set<string>();
    const touch = (streamKey: number, shard: number) => {
      const key = `${streamKey}:${shard}`;
      let entry = touched.get(key);
      if (!entry) {
        entry = { streamKey, shard, tip: { ...this.tipOf(streamKey, shard) } };
        touched.set(key, entry);
      }
      return entry;
    };
    const insert = this.stmt.insertChunk;
    const flush = (streamKey: number, shard: number, chunk: ChunkBuilder): void => {
      // SQLite copies the body during the insert, so one scratch buffer serves every chunk: this
      // thread allocates too little for its garbage collector to free a buffer per chunk soon.
      const { body, keyIds } = chunk.encode(this.scratch);
      insert.run(streamKey, shard, chunk.firstPosition, chunk.records.length, chunk.arrivalMs, keyIds, body);
    };
    const results = this.db.transaction(() => {
      const answers = batch.map((item): WorkResult => {
        if (item.kind === 'seal') {
          const { tip } = touch(item.streamKey, item.shard);
          tip.sealed = true;
          this.stmt.insertSealed.run(item.streamKey, item.shard);
          sealedNow.add(`${item.streamKey}:${item.shard}`);
          return { kind: 'sealed', tip: { ...tip } };
        }
        const count = item.shards.length;
        for (let i = 0; i < count; i++) {
          const shard = item.shards[i] as number;
          if (touch(item.streamKey, shard).tip.sealed) return { kind: 'refused', shard };
        }
        const positions = new Float64Array(count);
        const arrivals = new Float64Array(count);
        let offset = 0;
        let keyOffset = 0;
        for (let i = 0; i < count; i++) {
          const shard = item.shards[i] as number;
          const entry = touch(item.streamKey, shard);
          const { tip } = entry;
          const length = item.lengths[i] as number;
          const keyEnd = keyOffset + (item.keyLengths[i] as number);
          const position = tip.nextPosition;
          const arrivalMs = Math.max(now, tip.lastArrivalMs);
          if (entry.chunk && entry.chunk.bytes + length > bounds.chunkMaxBytes) {
            flush(item.streamKey, shard, entry.chunk);
            entry.chunk = undefined;
          }
          entry.chunk ??= new ChunkBuilder(position, arrivalMs);
          entry.chunk.add({
            data: item.data.subarray(offset, offset + length),
            partitionKey: item.partitionKeys.slice(keyOffset, keyEnd),
            keyId: item.keyIds?.[i] ?? null,
          });
          offset += length;
          keyOffset = keyEnd;
          tip.nextPosition = position + 1;
          tip.lastArrivalMs = arrivalMs;
          positions[i] = position;
          arrivals[i] = arrivalMs;
        }
        return { kind: 'appended', positions, arrivals };
      });
      for (const { streamKey, shard, chunk } of touched.values()) if (chunk) flush(streamKey, shard, chunk);
      return answers;
    })();
    for (const [key, { tip }] of touched) this.tips.set(key, tip);
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
    // Start at the chunk holding fromPosition (if it ends before it, nothing follows it).
    const holder = this.stmt.chunkHeadAt.get(streamKey, shard, fromPosition);
    const start = holder && holder.first_pos + holder.count > fromPosition ? holder.first_pos : fromPosition;
    const picked: Array<{
      body: Buffer;
      span: RecordSpan;
      position: number;
      arrival: number;
      keyId: string | null;
    }> = [];
    let bytes = 0;
    let dataBytes = 0;
    let encrypted = false;
    scan: for (const chunk of this.stmt.chunksFrom.iterate(streamKey, shard, start, minArrivalMs)) {
      const skip = Math.max(0, fromPosition - chunk.first_pos);
      const keyIds = chunk.key_ids === null ? undefined : (JSON.parse(chunk.key_ids) as Array<string | null>);
      let offset = offsetOf(chunk.body, skip);
      for (let i = skip; i < chunk.count; i++) {
        if (picked.length >= maxCount) break scan;
        const span = spanAt(chunk.body, offset);
        const size = span.dataEnd - span.keyStart;
        if (picked.length > 0 && bytes + size > maxBytes) break scan;
        bytes += size;
        dataBytes += span.dataEnd - span.dataStart;
        const keyId = keyIds?.[i] ?? null;
        if (keyId !== null) encrypted = true;
        picked.push({ body: chunk.body, span, position: chunk.first_pos + i, arrival: chunk.arrival, keyId });
        offset = span.dataEnd;
      }
    }
    const count = picked.length;
    const positions = new Float64Array(count);
    const arrivals = new Float64Array(count);
    const lengths = new Int32Array(count);
    const data = new ArrayBuffer(dataBytes);
    const bytesView = new Uint8Array(data);
    const partitionKeys = new Array<string>(count);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const { body, span, position, arrival } = picked[i] as (typeof picked)[number];
      positions[i] = position;
      arrivals[i] = arrival;
      lengths[i] = span.dataEnd - span.dataStart;
      bytesView.set(body.subarray(span.dataStart, span.dataEnd), offset);
      offset += span.dataEnd - span.dataStart;
      partitionKeys[i] = body.toString('utf8', span.keyStart, span.dataStart);
    }
    const packed: PackedRead = {
      positions,
      arrivals,
      lengths,
      data,
      partitionKeys,
      tip: this.tip(streamKey, shard),
    };
    if (encrypted) packed.keyIds = picked.map((p) => p.keyId);
    return packed;
  }

  positionAt(streamKey: number, shard: number, timestampMs: number): number {
    const tip = this.tipOf(streamKey, shard);
    const first = this.stmt.firstChunk.get(streamKey, shard);
    if (!first || tip.lastArrivalMs < timestampMs) return tip.nextPosition;
    // Arrival times never decrease with position, and positions are contiguous from the first
    // retained record to the tip, so a binary search over positions finds the first match (each
    // step reads the head of the chunk holding the position).
    let low = first.first_pos;
    let high = tip.nextPosition - 1;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const chunk = this.stmt.chunkHeadAt.get(streamKey, shard, mid);
      if (chunk && chunk.arrival >= timestampMs) high = Math.min(mid, chunk.first_pos);
      else low = chunk ? Math.max(mid, chunk.first_pos + chunk.count - 1) + 1 : mid + 1;
    }
    return low;
  }

  trim(streamKey: number, shard: number, beforeMs: number, maxRows: number): number {
    const first = this.stmt.firstChunk.get(streamKey, shard);
    if (!first) return 0;
    // The newest record is always kept so the shard's next position survives a restart.
    const tip = this.tipOf(streamKey, shard);
    const cut = Math.min(
      this.positionAt(streamKey, shard, beforeMs),
      tip.nextPosition - 1,
      first.first_pos + maxRows,
    );
    if (cut <= first.first_pos) return 0;
    this.db.transaction(() => {
      this.stmt.dropChunksBelow.run(streamKey, shard, cut, cut);
      // A chunk the cut falls inside keeps its records from the cut on, as a chunk starting there.
      const split = this.stmt.chunkAt.get(streamKey, shard, cut);
      if (split && split.first_pos < cut) {
        const skip = cut - split.first_pos;
        const keyIds = split.key_ids === null ? null : JSON.stringify(JSON.parse(split.key_ids).slice(skip));
        this.stmt.dropChunk.run(streamKey, shard, split.first_pos);
        this.stmt.insertChunk.run(
          streamKey,
          shard,
          cut,
          split.count - skip,
          split.arrival,
          keyIds,
          split.body.subarray(offsetOf(split.body, skip)),
        );
      }
    })();
    return cut - first.first_pos;
  }

  close(): void {
    this.db.close();
  }
}
