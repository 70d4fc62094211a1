import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { LocalLeases } from './leases.js';
import {
  type AppendEntry,
  type Appended,
  type Lease,
  type LeaseBody,
  type MetaChange,
  type ReadRequest,
  type ReadResult,
  type Setting,
  ShardSealedError,
  type ShardTip,
  type Store,
  type StoredRecord,
  type StreamDoc,
} from './store.js';

export interface SqliteStoreOptions {
  /** Folder for the database; undefined keeps everything in memory (lost on exit). */
  dataDir?: string;
  /** fsync the write-ahead log on every commit, so acknowledged records survive power loss. */
  fsync?: boolean;
}

type Pending =
  | {
      kind: 'append';
      streamKey: number;
      entries: AppendEntry[];
      resolve: (appended: Appended[]) => void;
      reject: (error: unknown) => void;
    }
  | {
      kind: 'seal';
      streamKey: number;
      shard: number;
      resolve: (tip: ShardTip) => void;
      reject: (error: unknown) => void;
    };

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

/**
 * The embedded store: one SQLite database in WAL mode. With synchronous=NORMAL a commit is in
 * the operating system's hands when it returns, so an acknowledged record survives the process
 * being killed; with `fsync` (synchronous=FULL) the WAL is flushed to disk on each commit, so it
 * also survives power loss. Appends arriving in the same event-loop turn share one transaction
 * (group commit) and are acknowledged together after it commits.
 */
export class SqliteStore implements Store {
  readonly kind: string;
  private readonly db: Database.Database;
  private readonly watchers = new Set<(change: MetaChange) => void>();
  private readonly tips = new Map<string, ShardTip>();
  /** Appends and seals in arrival order, committed together by the next flush. Bounded by the
   * requests in flight (each holds at most one entry). */
  private pending: Pending[] = [];
  /** Sealed shards (`stream:shard`), loaded at start and kept with the `sealed` table. */
  private readonly sealed = new Set<string>();
  private flushScheduled = false;
  private readonly stmt;

  constructor(options: SqliteStoreOptions) {
    if (options.dataDir !== undefined) {
      mkdirSync(options.dataDir, { recursive: true });
      this.db = new Database(join(options.dataDir, 'sluice.db'));
      this.kind = 'sqlite';
    } else {
      this.db = new Database(':memory:');
      this.kind = 'sqlite-memory';
    }
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.fsync ? 'FULL' : 'NORMAL'}`);
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
    };
  }

  async loadStreams(): Promise<StreamDoc[]> {
    return this.stmt.allStreams
      .all()
      .map((row) => ({ ...(JSON.parse(row.doc) as StreamDoc), version: row.version }));
  }

  watch(onChange: (change: MetaChange) => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }

  private emit(change: MetaChange): void {
    for (const watcher of this.watchers) watcher(change);
  }

  async putStream(doc: StreamDoc, expectedVersion: number): Promise<StreamDoc | null> {
    const version = expectedVersion + 1;
    const stored: StreamDoc = { ...doc, version };
    const { version: _omit, ...body } = stored;
    const json = JSON.stringify(body);
    const ok =
      expectedVersion === 0
        ? this.db.transaction(() => {
            if (this.stmt.streamVersion.get(doc.name)) return false;
            this.stmt.insertStream.run(doc.name, version, json);
            return true;
          })()
        : this.stmt.updateStream.run(version, json, doc.name, expectedVersion).changes === 1;
    if (!ok) return null;
    this.emit({ kind: 'put', doc: stored });
    return stored;
  }

  async deleteStream(name: string, expectedVersion: number): Promise<boolean> {
    const row = this.db
      .prepare<[string], { doc: string }>('SELECT doc FROM streams WHERE name = ?')
      .get(name);
    if (!row) return false;
    const doc = JSON.parse(row.doc) as StreamDoc;
    const ok = this.db.transaction(() => {
      if (this.stmt.deleteStream.run(name, expectedVersion).changes !== 1) return false;
      this.stmt.dropRecords.run(doc.key);
      this.stmt.dropSealed.run(doc.key);
      return true;
    })();
    if (!ok) return false;
    for (const key of this.tips.keys()) if (key.startsWith(`${doc.key}:`)) this.tips.delete(key);
    for (const key of this.sealed) if (key.startsWith(`${doc.key}:`)) this.sealed.delete(key);
    this.emit({ kind: 'delete', name, key: doc.key });
    return true;
  }

  async getStream(name: string): Promise<StreamDoc | undefined> {
    const row = this.stmt.streamDoc.get(name);
    return row ? { ...(JSON.parse(row.doc) as StreamDoc), version: row.version } : undefined;
  }

  async getSetting(name: string): Promise<Setting | undefined> {
    const row = this.stmt.setting.get(name);
    return row ? { value: JSON.parse(row.value) as unknown, version: row.version } : undefined;
  }

  async putSetting(name: string, value: unknown, expectedVersion: number): Promise<Setting | null> {
    const json = JSON.stringify(value);
    const version = expectedVersion + 1;
    const ok =
      expectedVersion === 0
        ? this.stmt.insertSetting.run(name, version, json).changes === 1
        : this.stmt.updateSetting.run(version, json, name, expectedVersion).changes === 1;
    return ok ? { value, version } : null;
  }

  async secret(name: string, sizeBytes: number): Promise<Buffer> {
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

  append(streamKey: number, entries: AppendEntry[]): Promise<Appended[]> {
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: 'append', streamKey, entries, resolve, reject });
    });
  }

  sealShard(streamKey: number, shard: number): Promise<ShardTip> {
    return new Promise((resolve, reject) => {
      this.enqueue({ kind: 'seal', streamKey, shard, resolve, reject });
    });
  }

  private enqueue(item: Pending): void {
    this.pending.push(item);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /**
   * Commit every append and seal queued in this turn, in order, in one transaction, then answer
   * them. An append that names a shard sealed before it (in this batch or earlier) is refused
   * whole, before any of its entries is written.
   */
  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.flushScheduled = false;
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
    let results: Array<Appended[] | ShardTip | ShardSealedError>;
    try {
      results = this.db.transaction(() =>
        batch.map((item): Appended[] | ShardTip | ShardSealedError => {
          if (item.kind === 'seal') {
            const tip = tipFor(item.streamKey, item.shard);
            tip.sealed = true;
            this.stmt.insertSealed.run(item.streamKey, item.shard);
            sealedNow.add(`${item.streamKey}:${item.shard}`);
            return { ...tip };
          }
          const closed = item.entries.find((e) => tipFor(item.streamKey, e.shard).sealed);
          if (closed) return new ShardSealedError(closed.shard);
          return item.entries.map((entry) => {
            const tip = tipFor(item.streamKey, entry.shard);
            const position = tip.nextPosition;
            const arrivalMs = Math.max(now, tip.lastArrivalMs);
            this.stmt.insertRecord.run(
              item.streamKey,
              entry.shard,
              position,
              arrivalMs,
              entry.partitionKey,
              entry.data,
              entry.keyId ?? null,
            );
            tip.nextPosition = position + 1;
            tip.lastArrivalMs = arrivalMs;
            return { position, arrivalMs };
          });
        }),
      )();
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    for (const [key, tip] of touched) this.tips.set(key, tip);
    for (const key of sealedNow) this.sealed.add(key);
    batch.forEach((item, i) => {
      const result = results[i];
      if (result instanceof ShardSealedError) item.reject(result);
      else if (item.kind === 'seal') item.resolve(result as ShardTip);
      else item.resolve(result as Appended[]);
    });
  }

  async read(request: ReadRequest): Promise<ReadResult> {
    const { streamKey, shard, fromPosition, minArrivalMs, maxCount, maxBytes } = request;
    const records: StoredRecord[] = [];
    let bytes = 0;
    for (const row of this.stmt.readFrom.iterate(streamKey, shard, fromPosition, minArrivalMs, maxCount)) {
      const size = row.data.length + Buffer.byteLength(row.pk);
      if (records.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      const record: StoredRecord = {
        position: row.pos,
        arrivalMs: row.arrival,
        data: row.data,
        partitionKey: row.pk,
      };
      if (row.key_id !== null) record.keyId = row.key_id;
      records.push(record);
    }
    return { records, tip: { ...this.tipOf(streamKey, shard) } };
  }

  async tip(streamKey: number, shard: number): Promise<ShardTip> {
    return { ...this.tipOf(streamKey, shard) };
  }

  async positionAt(streamKey: number, shard: number, timestampMs: number): Promise<number> {
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

  async trim(streamKey: number, shard: number, beforeMs: number, maxRows: number): Promise<number> {
    const first = this.stmt.firstRecord.get(streamKey, shard);
    if (!first) return 0;
    // The newest record is always kept so the shard's next position survives a restart.
    const tip = this.tipOf(streamKey, shard);
    const cut = Math.min(
      await this.positionAt(streamKey, shard, beforeMs),
      tip.nextPosition - 1,
      first.pos + maxRows,
    );
    if (cut <= first.pos) return 0;
    return this.stmt.trimBelow.run(streamKey, shard, first.pos, cut).changes;
  }

  // ---- leases: one process, so a map in memory (src/store/leases.ts) ----

  private readonly leases = new LocalLeases();

  updateLease(name: string, decide: (current: Lease | undefined) => LeaseBody | undefined) {
    return this.leases.update(name, decide);
  }

  peekLease(name: string): Lease | undefined {
    return this.leases.peek(name);
  }

  watchLeases(onChange: (lease: Lease) => void): () => void {
    return this.leases.watch(onChange);
  }

  /** One process serves this store: it is the whole fleet. */
  async heartbeat(_id: string, leaving = false): Promise<number> {
    return leaving ? 0 : 1;
  }

  async close(): Promise<void> {
    if (this.pending.length > 0) this.flush();
    this.db.close();
  }
}
