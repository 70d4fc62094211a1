/**
 * The embedded store alone, in this process: N concurrent appenders of 500 x 1 KiB records (4
 * shards) for a bounded time, then GetRecords-sized reads back. Reports records/s, the event
 * loop's busy share (what the serving thread has left), its longest stall, process CPU and peak
 * RSS. `--module` loads another build's src/store/sqlite.js (e.g. an older one) for a side-by-side
 * comparison; `--cache-kib` and `--checkpoint-kib` override the PRAGMAs of src/store/sqlite-core.ts.
 *
 *   node dist/bench/store-probe.js [--appenders 16] [--seconds 5] [--record-bytes 1024]
 *     [--module DIR/dist/src/store/sqlite.js] [--cache-kib N] [--checkpoint-kib N] [--page-size N] [--fsync]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Store } from '../src/store/store.js';

const { values } = parseArgs({
  options: {
    appenders: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '5' },
    'record-bytes': { type: 'string', default: '1024' },
    module: { type: 'string' },
    'cache-kib': { type: 'string' },
    'checkpoint-kib': { type: 'string' },
    'page-size': { type: 'string' },
    fsync: { type: 'boolean', default: false },
  },
});
const appenders = Number(values.appenders);
const seconds = Math.min(60, Number(values.seconds));
const recordBytes = Number(values['record-bytes']);
const batch = Math.max(1, Math.min(500, Math.floor((4 * 1024 * 1024) / recordBytes)));

const modulePath = values.module ? pathToFileURL(resolve(values.module)).href : '../src/store/sqlite.js';
const { SqliteStore } = (await import(modulePath)) as {
  SqliteStore: { new (o: object): Store; open?: (o: object) => Promise<Store> };
};
const dir = mkdtempSync(join(tmpdir(), 'sluice-store-probe-'));
const tuning: Record<string, number> = {};
if (values['cache-kib']) tuning.cacheSizeKiB = Number(values['cache-kib']);
if (values['checkpoint-kib']) tuning.walAutocheckpointBytes = Number(values['checkpoint-kib']) * 1024;
if (values['page-size']) tuning.pageSizeBytes = Number(values['page-size']);
const options = { dataDir: dir, fsync: values.fsync, tuning };
const store = SqliteStore.open ? await SqliteStore.open(options) : new SqliteStore(options);

const entries = Array.from({ length: batch }, (_, i) => ({
  shard: i % 4,
  data: Buffer.alloc(recordBytes, i),
  partitionKey: `pk-${i}`,
}));
/** CPU seconds of this process's main thread (the event loop), from /proc (Linux). */
function mainThreadCpu(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
const elu0 = performance.eventLoopUtilization();
const cpu0 = process.cpuUsage();
const main0 = mainThreadCpu();
const started = performance.now();
const deadline = started + seconds * 1000;
let records = 0;
let peakRss = 0;
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
await Promise.all(
  Array.from({ length: appenders }, async () => {
    while (performance.now() < deadline) {
      // A fresh copy each time, as a request's decoded records would be.
      const fresh = entries.map((e) => ({ ...e, data: Buffer.from(e.data) }));
      const appended = await store.append(1, fresh);
      records += appended.length;
    }
  }),
);
const wall = (performance.now() - started) / 1000;
const elu = performance.eventLoopUtilization(elu0);
const cpu = process.cpuUsage(cpu0);
const mainCpu = mainThreadCpu() - main0;
delay.disable();
const appendLine =
  `append ${appenders} x ${batch} x ${recordBytes} B: ${Math.round(records / wall).toLocaleString('en-US')} records/s, ` +
  `event loop busy ${(elu.utilization * 100).toFixed(0)}%, main thread CPU ${((mainCpu * 1e6) / records).toFixed(2)} us per record, ` +
  `longest stall ${(delay.max / 1e6).toFixed(0)} ms, process CPU ${((cpu.user + cpu.system) / records).toFixed(2)} us per record, ` +
  `peak RSS ${Math.round(Math.max(peakRss, process.memoryUsage().rss) / 1048576)} MiB`;

// Reads: drain one shard with reads of up to 10,000 records.
const readMain0 = mainThreadCpu();
const readCpu0 = process.cpuUsage();
const readStart = performance.now();
let read = 0;
let position = 0;
for (;;) {
  const result = await store.read({
    streamKey: 1,
    shard: 0,
    fromPosition: position,
    minArrivalMs: 0,
    maxCount: 10_000,
    maxBytes: 10 * 1024 * 1024,
  });
  if (result.records.length === 0) break;
  read += result.records.length;
  position = (result.records[result.records.length - 1]?.position ?? 0) + 1;
}
const readWall = (performance.now() - readStart) / 1000;
const readMain = mainThreadCpu() - readMain0;
const readCpu = process.cpuUsage(readCpu0);
clearInterval(rssTimer);
console.log(
  `${values.module ?? 'this build'} (cache ${values['cache-kib'] ?? 'default'} KiB, checkpoint every ${values['checkpoint-kib'] ?? 'default'} KiB of WAL, page ${values['page-size'] ?? 'default'} B):\n  ${appendLine}\n` +
    `  read ${read.toLocaleString('en-US')} records: ${Math.round(read / readWall).toLocaleString('en-US')} records/s, ` +
    `main thread CPU ${((readMain * 1e6) / Math.max(1, read)).toFixed(2)} us per record, process CPU ${((readCpu.user + readCpu.system) / Math.max(1, read)).toFixed(2)} us per record`,
);
await store.close();
rmSync(dir, { recursive: true, force: true });
