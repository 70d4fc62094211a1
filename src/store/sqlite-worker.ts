/**
 * The embedded store's worker thread: it owns the SQLite connection (src/store/sqlite-core.ts)
 * and answers the messages of src/store/sqlite.ts, one at a time, in the order they were sent.
 * Appends and seals that queued up while a commit ran are committed together in the next
 * transaction (group commit, bounded by src/limits.ts `sqlite`), and each is answered only after
 * that transaction committed.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { sqlite as bounds } from '../limits.js';
import { type AppendWork, type SealWork, SqliteCore, type SqliteCoreOptions } from './sqlite-core.js';

export type Request =
  | { id: number; op: 'append'; work: AppendWork }
  | { id: number; op: 'seal'; work: SealWork }
  | { id: number; op: 'call'; method: CallMethod; args: unknown[] }
  | { id: number; op: 'close' };

export type CallMethod =
  | 'loadStreams'
  | 'putStream'
  | 'deleteStream'
  | 'getStream'
  | 'getSetting'
  | 'putSetting'
  | 'secret'
  | 'tip'
  | 'read'
  | 'positionAt'
  | 'trim';

/** `returned`: an append's record memory, handed back to the serving thread (see commitBatch). */
export type Reply =
  | { id: number; ok: unknown; returned?: ArrayBuffer }
  | { id: number; error: { name: string; message: string }; returned?: ArrayBuffer };

const { options, port } = workerData as { options: SqliteCoreOptions; port: MessagePort };
const core = new SqliteCore(options);
function send(reply: Reply, transfer?: ArrayBuffer[]): void {
  port.postMessage(reply, transfer);
}

function failure(id: number, error: unknown): Reply {
  const e = error as Error;
  return { id, error: { name: e?.name ?? 'Error', message: e?.message ?? String(error) } };
}

const isWrite = (r: Request): r is Extract<Request, { op: 'append' | 'seal' }> =>
  r.op === 'append' || r.op === 'seal';

/** Rebuild Buffers over the transferred memory (structured clone delivers Uint8Arrays). */
function revive(request: Request): Request {
  if (request.op === 'append') {
    const data = request.work.data as Uint8Array;
    request.work.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  return request;
}

function returnedOf(r: Extract<Request, { op: 'append' | 'seal' }>): ArrayBuffer[] {
  return r.op === 'append' ? [r.work.data.buffer as ArrayBuffer] : [];
}

function giveBack(r: Extract<Request, { op: 'append' | 'seal' }>, reply: Reply): Reply {
  if (r.op === 'append') reply.returned = r.work.data.buffer as ArrayBuffer;
  return reply;
}

function commitBatch(batch: Array<Extract<Request, { op: 'append' | 'seal' }>>): void {
  let results: ReturnType<SqliteCore['commit']>;
  try {
    results = core.commit(batch.map((r) => r.work));
  } catch (error) {
    for (const r of batch) send(giveBack(r, failure(r.id, error)), returnedOf(r));
    return;
  }
  batch.forEach((r, i) => {
    const result = results[i];
    // The records' memory goes back with the answer: this thread allocates too little for its
    // garbage collector to run often, so memory dropped here would be held far longer than on
    // the serving thread, whose collector frees it (measured: +200 MiB peak RSS with 100 KiB
    // records otherwise).
    const transfer = returnedOf(r);
    if (result?.kind === 'appended') {
      transfer.push(result.positions.buffer as ArrayBuffer, result.arrivals.buffer as ArrayBuffer);
    }
    send(giveBack(r, { id: r.id, ok: result }), transfer);
  });
}

function handleCall(request: Extract<Request, { op: 'call' }>): void {
  try {
    // biome-ignore lint/suspicious/noExplicitAny: the method names are the core's own
    const result = (core as any)[request.method](...request.args);
    if (request.method === 'read') {
      const read = result as ReturnType<SqliteCore['read']>;
      send({ id: request.id, ok: read }, [
        read.data,
        read.positions.buffer as ArrayBuffer,
        read.arrivals.buffer as ArrayBuffer,
        read.lengths.buffer as ArrayBuffer,
      ]);
    } else send({ id: request.id, ok: result });
  } catch (error) {
    send(failure(request.id, error));
  }
}

function handle(first: Request): void {
  let next: Request | undefined = revive(first);
  while (next) {
    const request: Request = next;
    next = undefined;
    if (isWrite(request)) {
      // Take every write already queued behind this one, within the bounds.
      const batch = [request];
      let rows = request.op === 'append' ? request.work.shards.length : 0;
      let bytes = request.op === 'append' ? request.work.data.length : 0;
      for (;;) {
        const got = receiveMessageOnPort(port);
        if (!got) break;
        const queued = revive(got.message as Request);
        const addRows = queued.op === 'append' ? queued.work.shards.length : 0;
        const addBytes = queued.op === 'append' ? queued.work.data.length : 0;
        if (
          !isWrite(queued) ||
          rows + addRows > bounds.commitMaxRows ||
          bytes + addBytes > bounds.commitMaxBytes
        ) {
          next = queued;
          break;
        }
        batch.push(queued);
        rows += addRows;
        bytes += addBytes;
      }
      commitBatch(batch);
    } else if (request.op === 'close') {
      // The store ends this thread once it has the answer (exiting here could overtake it).
      core.close();
      send({ id: request.id, ok: true });
      return;
    } else handleCall(request);
  }
}

port.on('message', handle);
