/**
 * The embedded store's checkpointer thread: copies the write-ahead log into the database file
 * with its own connection, so that a checkpoint does not run inside a commit and hold appends
 * and reads on the store's worker thread (src/store/sqlite-worker.ts) meanwhile. SQLite lets a
 * PASSIVE checkpoint run beside a writer; the writer starts the log over once it is all copied.
 * The writer's own automatic checkpoint stays as a backstop for a log this thread cannot keep up
 * with (`sqliteTuning.walBackstopBytes`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointerOptions {
  path: string;
  fsync: boolean;
  intervalMs: number;
  busyTimeoutMs: number;
}

const options = workerData as CheckpointerOptions;
const db = new Database(options.path, { timeout: options.busyTimeoutMs });
db.pragma(`synchronous = ${options.fsync ? 'FULL' : 'NORMAL'}`);
let running = true;
parentPort?.on('message', (message: unknown) => {
  if (message === 'stop') running = false;
});

while (running) {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // Busy or locked: the writer's backstop checkpoint bounds the log meanwhile; try again later.
  }
  await sleep(options.intervalMs);
}
db.close();
parentPort?.postMessage('stopped');
