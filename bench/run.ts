/**
 * `npm run bench [-- options]`: Sluice against its peers (kinesalite, kinesis-local) and the no-op
 * server (Sluice's listener and validation without engine or store), side by side in one run, and
 * BENCHMARKS.md written from the results.
 *
 * Each workload runs against each server in turn; each (workload, server) pair gets a fresh server
 * process on a fresh temporary folder, bound to 127.0.0.1, and a fresh load generator process
 * (bench/load.ts). This process only orchestrates and samples /proc of both.
 *
 *   --quick                 2 s per workload and small pre-fills (a smoke run)
 *   --seconds N             seconds per timed workload (default 10, quick 2)
 *   --servers a,b           among sluice,noop,kinesalite,kinesis-local (default all)
 *   --workloads a,b         workload ids (default all; see `workloads` below)
 *   --out FILE              report path (default BENCHMARKS.md at the repository root)
 *   --json FILE             also write the raw results as JSON
 *   --rate N                records/s of the half-load latency workload (default: half of
 *                           Sluice's PutRecords 500 x 1 KiB, 16 callers, measured in this run)
 *   --kinesalite-store S    leveldb (default: durable, like Sluice) or memory
 *   --profile DIR           run Sluice with `node --cpu-prof --cpu-prof-dir DIR`
 *   --sluice-args "..."     extra arguments for `sluice serve` (e.g. "--memory" or "--fsync")
 */
import { execFileSync, fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KinesisHttp, sleep } from './client.js';
import { renderReport } from './report.js';
import {
  children,
  freshDir,
  killChildren,
  MachineSampler,
  type ProcSample,
  ProcSampler,
  type RunningServer,
  removeDir,
  type ServerDef,
  type ServerId,
  serverDefs,
  startServer,
  statusKiB,
} from './servers.js';
import type { LoadResult, LoadSpec, ToChild, ToParent } from './spec.js';
import { median } from './stats.js';
import type { SubscribeResult, SubscribeSpec } from './subscribe.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    servers: { type: 'string' },
    workloads: { type: 'string' },
    out: { type: 'string' },
    json: { type: 'string' },
    rate: { type: 'string' },
    'kinesalite-store': { type: 'string', default: 'leveldb' },
    profile: { type: 'string' },
    'sluice-args': { type: 'string' },
  },
});

const quick = values.quick ?? false;
const seconds = Math.min(60, Number(values.seconds ?? (quick ? 2 : 10)));
/** Unmeasured seconds of the half-load workload before its window: a fresh server's first second
 * (code not yet optimized, files growing) held most of its p99 (server-side timing: 27 calls over
 * 15 ms, all in the first 0.4 s). */
const halfLoadWarmupSeconds = 2;
const sizes = quick
  ? {
      drainFill: 20_000,
      drainFillBudget: 20,
      startupStreams: 100,
      startupRecords: 50_000,
      startupBudgetPeers: 30,
      startupBudgetSluice: 60,
      restarts: 2,
      subscribeSeconds: 2,
    }
  : {
      drainFill: 200_000,
      drainFillBudget: 45,
      startupStreams: 1000,
      startupRecords: 1_000_000,
      startupBudgetPeers: 60,
      startupBudgetSluice: 300,
      restarts: 3,
      subscribeSeconds: 10,
    };
const kinesaliteStore = values['kinesalite-store'] === 'memory' ? 'memory' : 'leveldb';
const profileDir = values.profile ? resolve(values.profile) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

const sluiceArgs = values['sluice-args']?.split(/\s+/).filter(Boolean);
const allDefs = serverDefs({ root, profileDir, kinesaliteStore, sluiceArgs });
const wantedServers = values.servers?.split(',').map((s) => s.trim()) ?? allDefs.map((d) => d.id);
const defs = allDefs.filter((d) => wantedServers.includes(d.id));

// ---------------------------------------------------------------------------------------------
// Workloads

export interface Row {
  server: ServerId;
  label: string;
  skipped?: string;
  error?: string;
  load?: LoadResult;
  serverProc?: ProcSample;
  clientProc?: ProcSample;
  machineBusyPercent?: number;
  startup?: StartupResult;
  subscribe?: SubscribeResult;
}

export interface StartupResult {
  streams: number;
  records: number;
  recordBytes: number;
  fillSeconds: number;
  /** Spawn to the first 200 answer to ListStreams, per restart, ms. */
  startsMs: number[];
  rssAfterStartMiB: number;
  storedMiB?: number;
  notes: string[];
}

export interface WorkloadResult {
  id: string;
  title: string;
  description: string;
  kind: 'load' | 'startup' | 'subscribe';
  rows: Row[];
  notes: string[];
}

interface LoadWorkload {
  id: string;
  kind: 'load';
  title: string;
  description: string;
  spec(url: string, server: ServerId): LoadSpec | string;
}

const streamName = (id: string) => `bench-${id}`;

function putWorkload(
  id: string,
  title: string,
  recordBytes: number,
  batch: number,
  callers: number,
  description: string,
): LoadWorkload {
  return {
    id,
    kind: 'load',
    title,
    description,
    spec: (url) => ({
      kind: 'put',
      url,
      stream: streamName(id),
      shards: 4,
      recordBytes,
      batch,
      callers,
      seconds,
    }),
  };
}

const results: WorkloadResult[] = [];

/** Records/s of Sluice's PutRecords 500 x 1 KiB with 16 callers in this run. */
function sluiceMaxRate(): number | undefined {
  const row = results.find((w) => w.id === 'put-1k-16')?.rows.find((r) => r.server === 'sluice');
  const load = row?.load;
  return load && load.records > 0 ? load.records / load.seconds : undefined;
}

const loadWorkloads: LoadWorkload[] = [
  putWorkload(
    'put-1k-1',
    'PutRecords, 500 x 1 KiB, 1 caller',
    1024,
    500,
    1,
    `One caller sending PutRecords of 500 records of 1 KiB back to back for ${seconds} s, into a 4-shard stream.`,
  ),
  putWorkload(
    'put-1k-16',
    'PutRecords, 500 x 1 KiB, 16 callers',
    1024,
    500,
    16,
    `16 concurrent callers (16 keep-alive connections) sending PutRecords of 500 records of 1 KiB for ${seconds} s, into a 4-shard stream. This is "maximum throughput" below.`,
  ),
  putWorkload(
    'putrecord-16',
    'PutRecord, 1 KiB, 16 callers',
    1024,
    1,
    16,
    `16 concurrent callers sending single-record PutRecord calls (1 KiB) for ${seconds} s.`,
  ),
  putWorkload(
    'put-100b-16',
    'PutRecords, 500 x 100 B, 16 callers',
    100,
    500,
    16,
    `16 callers, PutRecords of 500 records of 100 bytes, ${seconds} s.`,
  ),
  putWorkload(
    'put-100k-16',
    'PutRecords, 40 x 100 KiB, 16 callers',
    100 * 1024,
    40,
    16,
    `16 callers, PutRecords of 40 records of 100 KiB (4,000 KiB per request: 500 records of 100 KiB would exceed the 5 MiB request limit), ${seconds} s.`,
  ),
  {
    id: 'put-half-p99',
    kind: 'load',
    title: "PutRecords latency at half of Sluice's maximum throughput",
    description:
      "Open loop: PutRecords of 500 x 1 KiB sent on a fixed schedule at 50% of the records/s Sluice reached in 'PutRecords, 500 x 1 KiB, 16 callers' in this run, " +
      `the same rate for every server, for ${seconds} s, after ${halfLoadWarmupSeconds} s of the same load that are not measured (so that the figure is each server's steady state, not the first second of a fresh process); latency counts from each request's scheduled send time, so a server that falls behind is charged for the queue it builds (at most 256 requests in flight; later ones are dropped and counted).`,
    spec: (url) => {
      const rate = values.rate ? Number(values.rate) : (sluiceMaxRate() ?? 0) / 2;
      if (!(rate > 0)) return "no rate: Sluice's 16-caller PutRecords result is missing (pass --rate)";
      return {
        kind: 'put',
        url,
        stream: streamName('put-half-p99'),
        shards: 4,
        recordBytes: 1024,
        batch: 500,
        callers: 16,
        seconds,
        rate,
        maxInFlight: 256,
        warmupSeconds: halfLoadWarmupSeconds,
      };
    },
  },
  {
    id: 'drain',
    kind: 'load',
    title: 'GetRecords drain of 4 shards from TRIM_HORIZON',
    description:
      `Pre-fill a 4-shard stream with ${sizes.drainFill.toLocaleString('en-US')} records of 1 KiB (PutRecords, 16 callers, at most ${sizes.drainFillBudget} s), ` +
      `then one reader per shard: GetShardIterator TRIM_HORIZON and GetRecords (Limit 10,000) until the shard is drained (at most ${Math.max(seconds, 20)} s). ` +
      'Records/s = records read / time until the last reader finished; latency is per GetRecords call.',
    spec: (url) => ({
      kind: 'drain',
      url,
      stream: streamName('drain'),
      shards: 4,
      recordBytes: 1024,
      fillRecords: sizes.drainFill,
      fillBudgetSeconds: sizes.drainFillBudget,
      fillCallers: 16,
      seconds: Math.max(seconds, 20),
    }),
  },
];

const workloadIds = [...loadWorkloads.map((w) => w.id), 'startup', 'subscribe'];
const wantedWorkloads = values.workloads?.split(',').map((s) => s.trim()) ?? workloadIds;
for (const w of wantedWorkloads) {
  if (!workloadIds.includes(w)) {
    console.error(`unknown workload ${w}; known: ${workloadIds.join(', ')}`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes

function log(line: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/** Fork a bench child (load.ts or subscribe.ts); `onReady` runs when it says it is ready. */
function forkChild<T>(
  script: string,
  first: unknown,
  timeoutMs: number,
  onReady?: (pid: number) => void,
  goMessage?: ToChild,
): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const child = fork(join(here, script), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(child);
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      finish(() => reject(new Error(`${script} did not finish within ${Math.round(timeoutMs / 1000)} s`)));
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('message', (message: ToParent | { type: 'result'; result: T }) => {
      if (message.type === 'ready') {
        onReady?.(child.pid as number);
        if (goMessage) child.send(goMessage);
      } else if (message.type === 'result') {
        finish(() => resolvePromise(message.result as T));
      } else if (message.type === 'error') {
        finish(() => reject(new Error(message.message)));
      }
    });
    child.on('exit', (code) => {
      children.delete(child);
      finish(() => reject(new Error(`${script} exited with ${code} before answering`)));
    });
    child.send(first as never);
  });
}

async function withServer<T>(
  def: ServerDef,
  fn: (server: RunningServer) => Promise<T>,
  persist = false,
): Promise<T> {
  const dir = freshDir(def.id);
  let server: RunningServer | undefined;
  try {
    server = (await startServer(def, dir, persist)).server;
    return await fn(server);
  } finally {
    await server?.stop();
    removeDir(dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Runners

async function runLoad(workload: LoadWorkload, def: ServerDef): Promise<Row> {
  const row: Row = { server: def.id, label: def.label };
  await withServer(def, async (server) => {
    const spec = workload.spec(server.url, def.id);
    if (typeof spec === 'string') {
      row.skipped = spec;
      return;
    }
    const serverSampler = new ProcSampler(server.pid);
    let clientSampler: ProcSampler | undefined;
    let machine: MachineSampler | undefined;
    const budget =
      (spec.kind === 'drain'
        ? spec.fillBudgetSeconds + spec.seconds
        : spec.kind === 'put'
          ? spec.seconds
          : 0) + 180;
    const result = await forkChild<LoadResult>(
      'load.js',
      { type: 'spec', spec } satisfies ToChild,
      budget * 1000,
      (pid) => {
        serverSampler.start();
        clientSampler = new ProcSampler(pid);
        clientSampler.start();
        machine = new MachineSampler();
      },
      { type: 'go' },
    );
    row.serverProc = serverSampler.stop();
    row.clientProc = clientSampler?.stop();
    row.machineBusyPercent = machine?.stop();
    row.load = result;
    if (server.proc.exitCode !== null)
      row.error = `server exited with ${server.proc.exitCode}: ${server.log}`;
  });
  return row;
}

function dirMiB(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    for (const name of readdirSafe(d)) {
      const p = join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else total += s.size;
    }
  };
  walk(dir);
  return total / 1048576;
}

function readdirSafe(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

async function runStartup(def: ServerDef): Promise<Row> {
  const row: Row = { server: def.id, label: def.label };
  const dir = freshDir(`${def.id}-startup`);
  const notes: string[] = [];
  try {
    let fill: LoadResult | undefined;
    const recordBytes = 100;
    if (def.id !== 'noop') {
      const first = (await startServer(def, dir, true)).server;
      try {
        const budget = def.id === 'sluice' ? sizes.startupBudgetSluice : sizes.startupBudgetPeers;
        log(
          `  pre-filling ${def.label}: ${sizes.startupStreams} streams, ${sizes.startupRecords} records (≤ ${budget} s)`,
        );
        fill = await forkChild<LoadResult>(
          'load.js',
          {
            type: 'spec',
            spec: {
              kind: 'fill-many',
              url: first.url,
              streams: sizes.startupStreams,
              records: sizes.startupRecords,
              recordBytes,
              callers: 16,
              budgetSeconds: budget,
            },
          } satisfies ToChild,
          (budget + 300) * 1000,
        );
        notes.push(...fill.notes);
        log(
          `  filled ${fill.filled?.streams} streams, ${fill.records} records in ${fill.seconds.toFixed(1)} s`,
        );
        if (def.id === 'kinesis-local') {
          const file = join(dir, 'kinesis-local', 'kinesis-data.json');
          const t = performance.now();
          if (!(await waitForPersisted(file, Date.now(), 120_000))) {
            notes.push('its data file was not seen written completely within 120 s of the pre-fill');
          }
          log(`  waited ${((performance.now() - t) / 1000).toFixed(1)} s for its data file`);
        }
      } finally {
        const t = performance.now();
        await first.stop(60_000);
        log(`  stopped in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      }
    }
    const startsMs: number[] = [];
    let rss = 0;
    for (let i = 0; i < sizes.restarts; i++) {
      const { server, readyMs } = await startServer(def, dir, true, 300_000);
      try {
        startsMs.push(readyMs);
        rss = Math.max(rss, (statusKiB(server.pid, 'VmRSS') ?? 0) / 1024);
        if (fill && i === 0) {
          const client = new KinesisHttp(server.url, 1);
          const listed = await client.json<{ StreamNames?: string[] }>('ListStreams', { Limit: 10 });
          client.close();
          if ((listed.StreamNames?.length ?? 0) === 0)
            notes.push('after restart, ListStreams showed no streams');
        }
      } finally {
        await server.stop(60_000);
      }
      if (readyMs > 10_000) {
        if (i + 1 < sizes.restarts) notes.push(`started once only: its start took over 10 s`);
        break;
      }
    }
    row.startup = {
      streams: fill?.filled?.streams ?? 0,
      records: fill?.records ?? 0,
      recordBytes,
      fillSeconds: fill?.seconds ?? 0,
      startsMs,
      rssAfterStartMiB: rss,
      storedMiB: dirMiB(dir),
      notes,
    };
  } finally {
    removeDir(dir);
  }
  return row;
}

/**
 * kinesis-local writes its whole state to a JSON file, in chunks, every PERSIST_INTERVAL (5 s)
 * after the previous write. A write is complete once the file has not changed for 2 s; wait for
 * two complete writes after the pre-fill with the same size (the second began after every
 * acknowledged record). False if that did not happen within `timeoutMs`.
 */
async function waitForPersisted(path: string, sinceMs: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  let changedAt = Date.now();
  const complete: { mtime: number; size: number }[] = [];
  while (Date.now() < deadline) {
    if (existsSync(path)) {
      const st = statSync(path);
      const key = `${st.mtimeMs}/${st.size}`;
      if (key !== seen) {
        seen = key;
        changedAt = Date.now();
      } else if (Date.now() - changedAt >= 2_000 && st.mtimeMs > sinceMs) {
        const last = complete[complete.length - 1];
        if (!last || last.mtime !== st.mtimeMs) {
          if (last && last.size === st.size) return true;
          complete.push({ mtime: st.mtimeMs, size: st.size });
        }
      }
    }
    await sleep(200);
  }
  return false;
}

async function runSubscribe(def: ServerDef): Promise<Row> {
  const row: Row = { server: def.id, label: def.label };
  await withServer(def, async (server) => {
    const sampler = new ProcSampler(server.pid);
    sampler.start();
    const spec: SubscribeSpec = { url: server.url, seconds: sizes.subscribeSeconds, ratePerSec: 100 };
    row.subscribe = await forkChild<SubscribeResult>('subscribe.js', spec, (spec.seconds + 120) * 1000);
    row.serverProc = sampler.stop();
  });
  return row;
}

// ---------------------------------------------------------------------------------------------

function machineInfo() {
  const cpu =
    /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model;
  return {
    nproc: os.availableParallelism(),
    memoryGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    cpu: cpu ?? 'unknown',
    kernel: `${os.type()} ${os.release()}`,
    loadBefore: os.loadavg(),
  };
}

async function main(): Promise<void> {
  const started = new Date();
  const machine = machineInfo();
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  log(`${command}: servers ${defs.map((d) => d.id).join(', ')}; ${seconds} s per workload`);
  const skippedServers = defs.filter((d) => d.unavailable);
  const runnable = defs.filter((d) => !d.unavailable);
  // A server that cannot start at all is skipped for the whole run, with its reason.
  const broken = new Map<ServerId, string>();
  for (const def of runnable) {
    try {
      await withServer(def, async () => {});
    } catch (error) {
      broken.set(def.id, `could not start: ${String(error).slice(0, 400)}`);
      log(`${def.label} skipped: ${broken.get(def.id)}`);
    }
  }
  const skipRow = (def: ServerDef): Row | undefined => {
    const why = def.unavailable ?? broken.get(def.id);
    return why ? { server: def.id, label: def.label, skipped: why } : undefined;
  };

  for (const id of wantedWorkloads) {
    const load = loadWorkloads.find((w) => w.id === id);
    const title =
      load?.title ??
      (id === 'startup'
        ? `Start-up with ${sizes.startupStreams.toLocaleString('en-US')} streams and ${sizes.startupRecords.toLocaleString('en-US')} records stored`
        : 'SubscribeToShard put-to-event latency (enhanced fan-out)');
    const description =
      load?.description ??
      (id === 'startup'
        ? `Each server is pre-filled once through its API (${sizes.startupStreams} one-shard streams, then PutRecords of 100-byte records round robin across them, 16 callers, at most ${sizes.startupBudgetSluice} s for Sluice and ${sizes.startupBudgetPeers} s for a peer), stopped with SIGTERM, then started again ${sizes.restarts} times on the same data: the time is from spawning the process to its first 200 answer to ListStreams (polled every 5 ms). The no-op server has no data: its time is the floor of a Node process with this listener.`
        : `Sluice only (the peers have no enhanced fan-out): RegisterStreamConsumer on a one-shard stream, SubscribeToShard with the AWS SDK v3 (default HTTP/2 handler) from LATEST, then PutRecord one at a time at 100 records/s for ${sizes.subscribeSeconds} s (hand-signed HTTP/1.1, in the same process) with the send time in the data; the latency is event receive time minus put send time, per record.`);
    const result: WorkloadResult = {
      id,
      title,
      description,
      kind: load ? 'load' : id === 'startup' ? 'startup' : 'subscribe',
      rows: [],
      notes: [],
    };
    results.push(result);
    log(`workload ${id}: ${title}`);
    const targets = id === 'subscribe' ? defs.filter((d) => d.id === 'sluice') : defs;
    for (const def of targets) {
      const skip = skipRow(def);
      if (skip) {
        result.rows.push(skip);
        continue;
      }
      const t0 = performance.now();
      try {
        const row = load
          ? await runLoad(load, def)
          : id === 'startup'
            ? await runStartup(def)
            : await runSubscribe(def);
        result.rows.push(row);
        log(`  ${def.label}: ${summaryLine(row)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        result.rows.push({ server: def.id, label: def.label, error: message.slice(0, 600) });
        log(`  ${def.label}: failed: ${message.slice(0, 600)}`);
      }
    }
  }
  const finished = new Date();
  const report = {
    command,
    started: started.toISOString(),
    finished: finished.toISOString(),
    quick,
    seconds,
    sizes,
    machine: { ...machine, loadAfter: os.loadavg() },
    servers: defs.map((d) => ({
      id: d.id,
      label: d.label,
      how: d.how,
      skipped: d.unavailable ?? broken.get(d.id),
    })),
    skippedServers: skippedServers.map((d) => d.id),
    workloads: results,
    workloadIds,
    profileDir,
  };
  const out = resolve(values.out ?? join(root, 'BENCHMARKS.md'));
  const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
  writeFileSync(out, renderReport(report, previous));
  formatMarkdown(out);
  if (values.json) writeFileSync(resolve(values.json), `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${out} (${((finished.getTime() - started.getTime()) / 1000).toFixed(0)} s in all)`);
}

/** Lay the report out as the repository's formatter does (padded tables), so that `biome ci`
 * passes on a freshly generated BENCHMARKS.md; skipped quietly where Biome is not installed. */
function formatMarkdown(path: string): void {
  const biome = join(root, 'node_modules/.bin/biome');
  // Biome formats files of this repository only.
  if (!existsSync(biome) || !path.startsWith(`${root}/`)) return;
  try {
    execFileSync(biome, ['format', '--write', path], { cwd: root, stdio: 'ignore' });
  } catch {
    log(`biome could not format ${path}; run \`npx biome format --write ${path}\``);
  }
}

const ms = (v: number | null | undefined) =>
  typeof v === 'number' && Number.isFinite(v) ? v.toFixed(1) : '–';

function summaryLine(row: Row): string {
  if (row.skipped) return `skipped: ${row.skipped}`;
  if (row.load) {
    const l = row.load;
    return (
      `${Math.round(l.records / l.seconds)} records/s, p50 ${ms(l.latency.p50)} ms, p99 ${ms(l.latency.p99)} ms, ` +
      `server CPU ${ms(row.serverProc?.cpuPercent)}%, RSS ${ms(row.serverProc?.peakRssMiB)} MiB, ` +
      `client CPU ${ms(row.clientProc?.cpuPercent)}%${l.errors ? `, ${l.errors} errors: ${l.errorSamples[0]}` : ''}` +
      `${l.failedRecords ? `, ${l.failedRecords} failed records` : ''}${l.notes.length ? `; ${l.notes.join('; ')}` : ''}`
    );
  }
  if (row.startup) {
    const s = row.startup;
    return `${s.streams} streams, ${s.records} records; starts ${s.startsMs.map((m) => m.toFixed(0)).join(', ')} ms (median ${median(s.startsMs).toFixed(0)})`;
  }
  if (row.subscribe) {
    const s = row.subscribe;
    return `${s.received}/${s.sent} records, p50 ${ms(s.putToEvent.p50)} ms, p99 ${ms(s.putToEvent.p99)} ms`;
  }
  return row.error ?? '';
}

const interrupt = () => {
  killChildren();
  process.exit(130);
};
process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);
main().then(
  () => {
    killChildren();
  },
  (error: unknown) => {
    console.error(error);
    killChildren();
    process.exit(1);
  },
);
