import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { sqlite as bounds } from '../limits.js';
import { LocalLeases } from './leases.js';
import type { AppendWork, PackedRead, SqliteCoreOptions, WorkResult } from './sqlite-core.js';
import type { CallMethod, Reply, Request } from './sqlite-worker.js';
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

export type SqliteStoreOptions = SqliteCoreOptions;

type Pending = { resolve: (value: unknown) => void; reject: (error: unknown) => void };

/** Distributes the `Omit` over the union of requests. */
type Outgoing = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/**
 * The embedded store: one SQLite database in WAL mode, worked by its own worker thread
 * (src/store/sqlite-worker.ts, src/store/sqlite-core.ts) so that commits and reads use the
 * second core and never hold the event loop that serves requests. With synchronous=NORMAL a
 * commit is in the operating system's hands when it returns, so an acknowledged record survives
 * the process being killed; with `fsync` (synchronous=FULL) the WAL is flushed to disk on each
 * commit, so it also survives power loss. Appends that queue up while a commit runs share the
 * next transaction (group commit) and each resolves only after the transaction that holds it
 * committed. Every call is answered in the order it was made, so a read made after an append
 * resolved sees its records.
 */
export class SqliteStore implements Store {
  readonly kind: string;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly watchers = new Set<(change: MetaChange) => void>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failed: Error | undefined;
  private closing: Promise<void> | undefined;
  /** Buffers handed back by the worker, by size, for the next appends (transferBuffer). */
  private readonly spare = new Map<number, ArrayBuffer[]>();
  private spareBytes = 0;
  /** Records' bytes of the appends sent to the worker and not answered yet, and appends (and
   * seals) waiting to be sent (gate). */
  private bytesAtWorker = 0;
  private readonly gated: Array<{ bytes: number; resolve: () => void }> = [];

  /** Open the store; resolves once the database is open (or rejects if it cannot be). */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const store = new SqliteStore(options);
    try {
      await store.call('tip', [0, 0]);
    } catch (error) {
      await store.close().catch(() => {});
      throw error;
    }
    return store;
  }

  constructor(options: SqliteStoreOptions) {
    this.kind = options.dataDir !== undefined ? 'sqlite' : 'sqlite-memory';
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), {
      workerData: {
        options: { dataDir: options.dataDir, fsync: options.fsync, tuning: options.tuning },
        port: port2,
      },
      transferList: [port2],
    });
    this.port.on('message', (reply: Reply) => this.answer(reply));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`the SQLite worker exited (code ${code})`)));
    // Keep the process alive only while a call is waiting for the worker.
    this.port.unref();
    this.worker.unref();
  }

  private fail(error: Error): void {
    this.failed ??= error;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(error);
    }
    this.idle();
  }

  private idle(): void {
    if (this.pending.size === 0) {
      this.port.unref();
      this.worker.unref();
    }
  }

  private send<T>(request: Outgoing, transfer?: ArrayBuffer[]): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) {
        this.port.ref();
        this.worker.ref();
      }
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.port.postMessage({ ...request, id }, transfer);
    });
  }

  /**
   * A buffer for an append's records, reused from those the worker handed back: their memory is
   * otherwise only freed when the garbage collector gets to them, and with 100 KiB records that
   * lag was about 100 MiB of resident memory. Sizes are powers of two from 64 KiB.
   */
  private transferBuffer(bytes: number): Buffer {
    const size = Math.max(bounds.transferMinBytes, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
    const free = this.spare.get(size);
    const reused = free?.pop();
    if (reused) {
      this.spareBytes -= size;
      return Buffer.from(reused, 0, bytes);
    }
    return Buffer.from(new ArrayBuffer(size), 0, bytes);
  }

  private recycle(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    if (this.spareBytes + size > bounds.transferPoolBytes || size !== 2 ** Math.round(Math.log2(size)))
      return;
    let free = this.spare.get(size);
    if (!free) {
      free = [];
      this.spare.set(size, free);
    }
    free.push(buffer);
    this.spareBytes += size;
  }

  private call<T>(method: CallMethod, args: unknown[]): Promise<T> {
    return this.send<T>({ op: 'call', method, args });
  }

  private answer(reply: Reply): void {
    if (reply.returned) this.recycle(reply.returned);
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    this.idle();
    if ('error' in reply) {
      const error = new Error(reply.error.message);
      error.name = reply.error.name;
      pending.reject(error);
    } else pending.resolve(reply.ok);
  }

  async loadStreams(): Promise<StreamDoc[]> {
    const rows = await this.call<Array<{ doc: string; version: number }>>('loadStreams', []);
    return rows.map((row) => ({ ...(JSON.parse(row.doc) as StreamDoc), version: row.version }));
  }

  watch(onChange: (change: MetaChange) => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }

  private emit(change: MetaChange): void {
    for (const watcher of this.watchers) watcher(change);
  }

  async putStream(doc: StreamDoc, expectedVersion: number): Promise<StreamDoc | null> {
    const stored: StreamDoc = { ...doc, version: expectedVersion + 1 };
    const { version: _omit, ...body } = stored;
    const ok = await this.call<boolean>('putStream', [doc.name, JSON.stringify(body), expectedVersion]);
    if (!ok) return null;
    this.emit({ kind: 'put', doc: stored });
    return stored;
  }

  async deleteStream(name: string, expectedVersion: number): Promise<boolean> {
    const key = await this.call<number | undefined>('deleteStream', [name, expectedVersion]);
    if (key === undefined) return false;
    this.emit({ kind: 'delete', name, key });
    return true;
  }

  async getStream(name: string): Promise<StreamDoc | undefined> {
    const row = await this.call<{ doc: string; version: number } | undefined>('getStream', [name]);
    return row ? { ...(JSON.parse(row.doc) as StreamDoc), version: row.version } : undefined;
  }

  async getSetting(name: string): Promise<Setting | undefined> {
    const row = await this.call<{ value: string; version: number } | undefined>('getSetting', [name]);
    return row ? { value: JSON.parse(row.value) as unknown, version: row.version } : undefined;
  }

  async putSetting(name: string, value: unknown, expectedVersion: number): Promise<Setting | null> {
    const ok = await this.call<boolean>('putSetting', [name, JSON.stringify(value), expectedVersion]);
    return ok ? { value, version: expectedVersion + 1 } : null;
  }

  async secret(name: string, sizeBytes: number): Promise<Buffer> {
    const value = await this.call<Uint8Array>('secret', [name, sizeBytes]);
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }

  async append(streamKey: number, entries: AppendEntry[]): Promise<Appended[]> {
    let total = 0;
    for (const entry of entries) total += entry.data.length;
    await this.gate(total);
    try {
      return await this.appendNow(streamKey, entries, total);
    } finally {
      this.ungate(total);
    }
  }

  /**
   * Appends and seals wait here, in order, while the worker already holds appends' records of
   * `sqlite.maxBytesAtWorker` (src/limits.ts): the worker then always has its next group commit
   * queued, and a backlog (a starved worker, an overload) waits as the requests' decoded records
   * rather than as copies in messages (measured: +130 MiB with 256 PutRecords queued).
   */
  private gate(bytes: number): Promise<void> | undefined {
    if (
      this.gated.length === 0 &&
      (this.bytesAtWorker === 0 || this.bytesAtWorker + bytes <= bounds.maxBytesAtWorker)
    ) {
      this.bytesAtWorker += bytes;
      return undefined;
    }
    return new Promise((resolve) => this.gated.push({ bytes, resolve }));
  }

  private ungate(bytes: number): void {
    this.bytesAtWorker -= bytes;
    for (;;) {
      const next = this.gated[0];
      if (!next || (this.bytesAtWorker !== 0 && this.bytesAtWorker + next.bytes > bounds.maxBytesAtWorker))
        break;
      this.gated.shift();
      this.bytesAtWorker += next.bytes;
      next.resolve();
    }
  }

  private async appendNow(streamKey: number, entries: AppendEntry[], total: number): Promise<Appended[]> {
    const count = entries.length;
    const shards = new Int32Array(count);
    const lengths = new Int32Array(count);
    const keyLengths = new Int32Array(count);
    let partitionKeys = '';
    let keyIds: Array<string | null> | undefined;
    for (let i = 0; i < count; i++) {
      const entry = entries[i] as AppendEntry;
      shards[i] = entry.shard;
      lengths[i] = entry.data.length;
      partitionKeys += entry.partitionKey;
      keyLengths[i] = entry.partitionKey.length;
      if (entry.keyId !== undefined) {
        keyIds ??= new Array<string | null>(count).fill(null);
        keyIds[i] = entry.keyId;
      }
    }
    // One buffer of its own (never a slice of Node's shared pool), handed over without a copy.
    const data = this.transferBuffer(total);
    let offset = 0;
    for (const entry of entries) {
      entry.data.copy(data, offset);
      offset += entry.data.length;
    }
    const work: AppendWork = { kind: 'append', streamKey, shards, lengths, data, partitionKeys, keyLengths };
    if (keyIds) work.keyIds = keyIds;
    const result = await this.send<WorkResult>({ op: 'append', work }, [
      data.buffer as ArrayBuffer,
      shards.buffer as ArrayBuffer,
      lengths.buffer as ArrayBuffer,
      keyLengths.buffer as ArrayBuffer,
    ]);
    if (result.kind === 'refused') throw new ShardSealedError(result.shard);
    if (result.kind !== 'appended') throw new Error('the SQLite worker answered an append with a seal');
    const appended = new Array<Appended>(count);
    for (let i = 0; i < count; i++) {
      appended[i] = { position: result.positions[i] as number, arrivalMs: result.arrivals[i] as number };
    }
    return appended;
  }

  async sealShard(streamKey: number, shard: number): Promise<ShardTip> {
    // In order with the appends waiting at the gate.
    await this.gate(0);
    this.ungate(0);
    const result = await this.send<WorkResult>({ op: 'seal', work: { kind: 'seal', streamKey, shard } });
    if (result.kind !== 'sealed') throw new Error('the SQLite worker answered a seal with an append');
    return result.tip;
  }

  async read(request: ReadRequest): Promise<ReadResult> {
    const { streamKey, shard, fromPosition, minArrivalMs, maxCount, maxBytes } = request;
    const packed = await this.call<PackedRead>('read', [
      streamKey,
      shard,
      fromPosition,
      minArrivalMs,
      maxCount,
      maxBytes,
    ]);
    const count = packed.positions.length;
    const records = new Array<StoredRecord>(count);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const length = packed.lengths[i] as number;
      const record: StoredRecord = {
        position: packed.positions[i] as number,
        arrivalMs: packed.arrivals[i] as number,
        data: Buffer.from(packed.data, offset, length),
        partitionKey: packed.partitionKeys[i] as string,
      };
      const keyId = packed.keyIds?.[i];
      if (keyId != null) record.keyId = keyId;
      records[i] = record;
      offset += length;
    }
    return { records, tip: packed.tip };
  }

  tip(streamKey: number, shard: number): Promise<ShardTip> {
    return this.call<ShardTip>('tip', [streamKey, shard]);
  }

  positionAt(streamKey: number, shard: number, timestampMs: number): Promise<number> {
    return this.call<number>('positionAt', [streamKey, shard, timestampMs]);
  }

  trim(streamKey: number, shard: number, beforeMs: number, maxRows: number): Promise<number> {
    return this.call<number>('trim', [streamKey, shard, beforeMs, maxRows]);
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

  /** Waits for every call made before it, closes the database and ends the worker. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.failed) {
        await this.send({ op: 'close' });
        await this.worker.terminate();
      }
      this.port.close();
    })();
    return this.closing;
  }
}
