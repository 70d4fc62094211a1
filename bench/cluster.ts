/**
 * Cluster mode benchmark (issue 8), `npm run bench:cluster`: a 3-node nats-server cluster on
 * 127.0.0.1 (max_payload 16 MB, JetStream in temporary folders; test/nats-helpers.ts), and in
 * one run:
 *   (a) raw JetStream: pipelined publishes of 1 KiB messages to 4 R3 streams with a reply inbox
 *       (the store's Requester, as src/store/nats.ts publishes), then ordered-consumer fetches of
 *       all of them;
 *   (b) Sluice cluster mode: 1 and 2 `sluice serve --store nats://... --throughput unlimited`
 *       frontends, PutRecords of 500 x 1 KiB with 16 callers spread over the frontends, and a
 *       GetRecords drain of a 4-shard stream per frontend (the load generator bench/load.ts);
 *   (c) cold start: from spawning `sluice serve` to its first served request, with 1,000 streams
 *       x 2 shards and with 1,000 streams x 10 shards (10,000 shards) in the store, and the
 *       frontend's RSS.
 * Server CPU-seconds are reported with every figure: the machine is shared, so compare figures of
 * one run, or per server CPU-second. The results go into BENCHMARKS.md's preface, between this
 * benchmark's own markers (only that part is replaced).
 *
 * Options: --seconds N (publish and put windows, default 10), --drain-records N (per drain,
 * default 40000), --cold-streams N (default 1000), --out FILE (default BENCHMARKS.md), --no-write.
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { nats as natsLimits } from '../src/limits.js';
import { forEachLimited, newHeaders, Requester } from '../src/store/nats/client.js';
import { NatsStore } from '../src/store/nats.js';
import {
  makeDoc,
  type NatsServers,
  startFrontend,
  startNatsCluster,
  stopFrontend,
} from '../test/nats-helpers.js';
import { ensureStream, KinesisHttp, sleep } from './client.js';
import { MachineSampler, ProcSampler, statusKiB } from './servers.js';
import type { LoadResult, LoadSpec, ToChild, ToParent } from './spec.js';
import { type LatencySummary, median, summarize } from './stats.js';
import type { SubscribeResult, SubscribeSpec } from './subscribe.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    'drain-records': { type: 'string', default: '40000' },
    'cold-streams': { type: 'string', default: '1000' },
    out: { type: 'string', default: 'BENCHMARKS.md' },
    'no-write': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const drainRecords = Number(values['drain-records']);
const coldStreams = Number(values['cold-streams']);
const recordBytes = 1024;
const rawStreams = 4;
/** Publishes in flight per raw stream: the store's own bound per shard. */
const rawWindow = natsLimits.maxInflightPerShard;
const coldStarts = 3;

function log(line: string): void {
  console.error(`[bench:cluster ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

// ---- processes: everything started here is stopped on the way out, even on failure ----------

const loaders = new Set<ChildProcess>();
const frontends: ChildProcess[] = [];

/** SubscribeToShard put-to-event latency with two frontends (subscriber on the second). */
const fanout: Array<{ name: string; result: SubscribeResult }> = [];
const fanoutSeconds = 5;
const fanoutRate = 50;

/** bench/subscribe.ts in a child process (its own SDK client and clock). */
function subscribeProbe(spec: SubscribeSpec): Promise<SubscribeResult> {
  const child = fork(join(here, 'subscribe.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  loaders.add(child);
  return new Promise<SubscribeResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), (spec.seconds + 60) * 1000);
    child.on('message', (m: { type: string; result?: SubscribeResult; message?: string }) => {
      if (m.type === 'result' && m.result) resolve(m.result);
      else if (m.type === 'error') reject(new Error(m.message));
    });
    child.on('exit', () => {
      loaders.delete(child);
      clearTimeout(timer);
      reject(new Error('subscribe probe exited before answering'));
    });
    child.send(spec);
  });
}
process.on('exit', () => {
  for (const child of [...loaders, ...frontends]) if (child.exitCode === null) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

/** A load generator process (bench/load.ts) with its spec; `go` starts its measured phase. */
function forkLoad(spec: LoadSpec, timeoutMs: number) {
  const child = fork(join(here, 'load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  loaders.add(child);
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const result = new Promise<LoadResult>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`load generator did not finish within ${timeoutMs / 1000} s`));
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('message', (message: ToParent) => {
      if (message.type === 'ready') onReady();
      else if (message.type === 'result') {
        clearTimeout(timer);
        resolvePromise(message.result);
      } else if (message.type === 'error') {
        clearTimeout(timer);
        reject(new Error(message.message));
      }
    });
    child.on('exit', (code) => {
      loaders.delete(child);
      clearTimeout(timer);
      reject(new Error(`load generator exited with ${code} before answering`));
    });
  });
  // A failure before `ready` must not wait for `ready`.
  const readyOrFail = Promise.race([ready, result.then(() => {})]);
  child.send({ type: 'spec', spec } satisfies ToChild);
  return { pid: child.pid as number, ready: readyOrFail, result, go: () => child.send({ type: 'go' }) };
}

/** CPU of the servers (frontends and nats-servers) and of the machine over one window. */
class Window {
  private readonly started = performance.now();
  private readonly machine = new MachineSampler();
  private readonly front: ProcSampler[];
  private readonly nats: ProcSampler[];
  private readonly loaders: ProcSampler[];
  private readonly self = process.cpuUsage();

  constructor(frontendPids: number[], natsPids: number[], loaderPids: number[] = []) {
    this.front = frontendPids.map((pid) => new ProcSampler(pid));
    this.nats = natsPids.map((pid) => new ProcSampler(pid));
    this.loaders = loaderPids.map((pid) => new ProcSampler(pid));
    for (const s of [...this.front, ...this.nats, ...this.loaders]) s.start();
  }

  stop() {
    const secs = (performance.now() - this.started) / 1000;
    const front = this.front.map((s) => s.stop());
    const nats = this.nats.map((s) => s.stop());
    const loaders = this.loaders.map((s) => s.stop());
    const self = process.cpuUsage(this.self);
    const cpuSeconds = (samples: Array<{ cpuPercent: number }>) =>
      samples.reduce((sum, s) => sum + (s.cpuPercent / 100) * secs, 0);
    const machineBusyPercent = this.machine.stop();
    const frontendCpuSeconds = cpuSeconds(front);
    const natsCpuSeconds = cpuSeconds(nats);
    // The clients: the load generators, or this process for the raw JetStream rows.
    const clientCpuSeconds = cpuSeconds(loaders) + (self.user + self.system) / 1e6;
    const machineCpuSeconds = (machineBusyPercent / 100) * os.availableParallelism() * secs;
    return {
      seconds: secs,
      frontendCpuSeconds,
      natsCpuSeconds,
      clientCpuSeconds,
      /** CPU the rest of the machine took (other users' work): the noise. */
      otherCpuSeconds: Math.max(
        0,
        machineCpuSeconds - frontendCpuSeconds - natsCpuSeconds - clientCpuSeconds,
      ),
      frontendPeakRssMiB: Math.max(0, ...front.map((s) => s.peakRssMiB)),
      machineBusyPercent,
    };
  }
}
type WindowResult = ReturnType<Window['stop']>;

interface Row {
  name: string;
  records: number;
  seconds: number;
  latency?: LatencySummary;
  /** Latency summaries of several load generators (one per frontend). */
  latencies?: LatencySummary[];
  errors: number;
  window: WindowResult;
  notes: string[];
}

// ---- (a) raw JetStream ----------------------------------------------------------------------

async function rawJetStream(cluster: NatsServers, natsPids: number[]): Promise<Row[]> {
  const nc = await connect({ servers: cluster.servers });
  const requester = new Requester(nc, natsLimits.requestTimeoutMs, natsLimits.timeoutSweepMs);
  const rows: Row[] = [];
  try {
    const names = Array.from({ length: rawStreams }, (_, i) => `bench_raw_${i}`);
    for (const [i, name] of names.entries()) {
      await requester.api(`$JS.API.STREAM.CREATE.${name}`, {
        name,
        subjects: [`bench.raw.${i}`],
        retention: 'limits',
        storage: 'file',
        num_replicas: 3,
        discard: 'old',
        duplicate_window: 30e9,
      });
    }
    await sleep(1_000); // stream leaders elected
    const payload = Buffer.alloc(recordBytes, 0x61);
    const latencies: number[] = [];
    let acked = 0;
    let errors = 0;
    const errorSamples: string[] = [];
    let counter = 0;
    const window = new Window([], natsPids);
    const start = performance.now();
    const deadline = start + seconds * 1000;
    let end = start;
    await Promise.all(
      names.map(
        (_, i) =>
          new Promise<void>((resolveLane) => {
            let inflight = 0;
            const pump = () => {
              while (inflight < rawWindow && performance.now() < deadline) {
                inflight++;
                const headers = newHeaders();
                headers.set('Nats-Msg-Id', `raw-${counter++}`);
                const t0 = performance.now();
                requester
                  .publish(`bench.raw.${i}`, payload, headers)
                  .then(
                    () => {
                      const t1 = performance.now();
                      acked++;
                      latencies.push(t1 - t0);
                      end = t1;
                    },
                    (error: unknown) => {
                      errors++;
                      if (errorSamples.length < 3) errorSamples.push(String(error));
                    },
                  )
                  .finally(() => {
                    inflight--;
                    if (performance.now() < deadline) pump();
                    else if (inflight === 0) resolveLane();
                  });
              }
              if (inflight === 0) resolveLane();
            };
            pump();
          }),
      ),
    );
    rows.push({
      name: `raw JetStream publish, ${rawStreams} R3 streams, ${rawWindow} in flight per stream`,
      records: acked,
      seconds: (end - start) / 1000,
      latency: summarize(latencies),
      errors,
      window: window.stop(),
      notes: errorSamples,
    });
    log(`raw publish: ${acked} acked in ${((end - start) / 1000).toFixed(1)} s`);

    // Fetch everything back: one ordered consumer per stream, batches of up to 10,000.
    const js = jetstream(nc);
    const total = acked;
    let fetched = 0;
    const batchMs: number[] = [];
    const fetchWindow = new Window([], natsPids);
    const fetchStart = performance.now();
    const fetchDeadline = fetchStart + 60_000;
    await Promise.all(
      names.map(async (name) => {
        const info = await requester.api<{ state: { messages: number } }>(`$JS.API.STREAM.INFO.${name}`);
        const consumer = await js.consumers.get(name);
        let got = 0;
        while (got < info.state.messages && performance.now() < fetchDeadline) {
          const t0 = performance.now();
          // Never more than is left: a batch asking for more waits out its expiry.
          const batch = await consumer.fetch({
            max_messages: Math.min(10_000, info.state.messages - got),
            expires: 5_000,
          });
          for await (const m of batch) {
            got++;
            fetched++;
            if (m.data.length !== recordBytes) throw new Error('fetched a message of the wrong size');
          }
          batchMs.push(performance.now() - t0);
        }
      }),
    );
    const fetchEnd = performance.now();
    rows.push({
      name: `raw JetStream fetch, ordered consumers, batches of 10,000 (latency per batch)`,
      records: fetched,
      seconds: (fetchEnd - fetchStart) / 1000,
      latency: summarize(batchMs),
      errors: 0,
      window: fetchWindow.stop(),
      notes: fetched < total ? [`fetched ${fetched} of ${total} within 60 s`] : [],
    });
    log(`raw fetch: ${fetched} in ${((fetchEnd - fetchStart) / 1000).toFixed(1)} s`);
    for (const name of names) await requester.api(`$JS.API.STREAM.DELETE.${name}`).catch(() => {});
  } finally {
    requester.close();
    await nc.close();
  }
  return rows;
}

// ---- (b) Sluice cluster mode ------------------------------------------------------------------

/** Wait until `name` is ACTIVE through every frontend (each follows the store's log). */
async function activeEverywhere(urls: string[], name: string): Promise<void> {
  for (const url of urls) {
    const client = new KinesisHttp(url, 1);
    try {
      for (let i = 0; ; i++) {
        try {
          const out = await client.json<{ StreamDescriptionSummary?: { StreamStatus?: string } }>(
            'DescribeStreamSummary',
            { StreamName: name },
          );
          if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
        } catch (error) {
          if (i > 500) throw error;
        }
        await sleep(20);
      }
    } finally {
      client.close();
    }
  }
}

async function sluiceMode(cluster: NatsServers, natsPids: number[], count: number): Promise<Row[]> {
  const started: Array<{ child: ChildProcess; port: number }> = [];
  const rows: Row[] = [];
  try {
    for (let i = 0; i < count; i++) {
      // Each frontend knows a different node (it learns the others from it).
      const f = await startFrontend(`nats://${cluster.servers[i % cluster.servers.length]}`);
      started.push(f);
      frontends.push(f.child);
    }
    const urls = started.map((f) => `http://127.0.0.1:${f.port}`);
    const pids = started.map((f) => f.child.pid as number);
    const label = `${count} frontend${count > 1 ? 's' : ''}`;

    // PutRecords: one 4-shard stream, 16 callers spread over the frontends.
    const stream = `put-${count}`;
    const creator = new KinesisHttp(urls[0] as string, 1);
    await ensureStream(creator, stream, 4);
    creator.close();
    await activeEverywhere(urls, stream);
    const puts = urls.map((url) =>
      forkLoad(
        {
          kind: 'put',
          url,
          stream,
          shards: 4,
          recordBytes,
          batch: 500,
          callers: 16 / count,
          seconds,
        },
        (seconds + 180) * 1000,
      ),
    );
    await Promise.all(puts.map((p) => p.ready));
    const putWindow = new Window(
      pids,
      natsPids,
      puts.map((p) => p.pid),
    );
    for (const p of puts) p.go();
    const putResults = await Promise.all(puts.map((p) => p.result));
    rows.push(combine(`Sluice PutRecords 500 x 1 KiB, 16 callers, ${label}`, putResults, putWindow.stop()));
    log(`${rows[rows.length - 1]?.name}: ${rows[rows.length - 1]?.records} records`);

    // GetRecords: each frontend's loader fills its own 4-shard stream, then drains it.
    const drains = urls.map((url, i) =>
      forkLoad(
        {
          kind: 'drain',
          url,
          stream: `drain-${count}-${i}`,
          shards: 4,
          recordBytes,
          fillRecords: drainRecords,
          fillBudgetSeconds: 90,
          fillCallers: 16 / count,
          seconds: 60,
        },
        (90 + 60 + 180) * 1000,
      ),
    );
    await Promise.all(drains.map((d) => d.ready));
    const drainWindow = new Window(
      pids,
      natsPids,
      drains.map((d) => d.pid),
    );
    for (const d of drains) d.go();
    const drainResults = await Promise.all(drains.map((d) => d.result));
    rows.push(
      combine(
        `Sluice GetRecords drain (Limit 10,000), ${count > 1 ? `${count} streams of` : 'a stream of'} 4 shards x ${drainRecords.toLocaleString('en-US')} records, one per frontend, ${label}`,
        drainResults,
        drainWindow.stop(),
      ),
    );
    log(`${rows[rows.length - 1]?.name}: ${rows[rows.length - 1]?.records} records`);

    if (count === 2) {
      // Enhanced fan-out across frontends: subscribe through the second, put through each.
      const [a, b] = urls as [string, string];
      for (const [name, putUrl] of [
        ['subscriber and PutRecord on the same frontend', b],
        ['PutRecord through the other frontend', a],
      ] as const) {
        const result = await subscribeProbe({
          url: b,
          putUrl,
          seconds: fanoutSeconds,
          ratePerSec: fanoutRate,
        });
        fanout.push({ name, result });
        log(`fan-out, ${name}: p50 ${n1(result.putToEvent.p50)} ms`);
      }
    }
  } finally {
    await Promise.all(started.map((f) => stopFrontend(f.child)));
  }
  return rows;
}

function combine(name: string, results: LoadResult[], window: WindowResult): Row {
  return {
    name,
    records: results.reduce((sum, r) => sum + r.records, 0),
    seconds: Math.max(...results.map((r) => r.seconds)),
    latencies: results.map((r) => r.latency),
    errors: results.reduce((sum, r) => sum + r.errors + r.failedRecords, 0),
    window,
    notes: results.flatMap((r) => [...r.notes, ...r.errorSamples.slice(0, 1)]),
  };
}

// ---- (c) cold start ---------------------------------------------------------------------------

interface ColdResult {
  streams: number;
  shardsPerStream: number;
  createSeconds: number;
  /** Spawn to the listening line, ms (each start). */
  listeningMs: number[];
  /** Spawn to the first answered request, ms (each start). */
  firstRequestMs: number[];
  rssMiB: number[];
}

async function coldStart(
  cluster: NatsServers,
  streams: number,
  shardsPerStream: number,
): Promise<ColdResult> {
  // A deployment of its own (prefix) per store size. The record streams are R1: a frontend's
  // start reads only the (R3) metadata log, and 10,000 R3 streams would take this 2-core machine
  // far longer to create than the start being measured.
  const prefix = `cold${shardsPerStream}`;
  const store = await NatsStore.open({ servers: cluster.servers, replicas: 1, prefix });
  const started = performance.now();
  const deadline = started + 600_000;
  let created = 0;
  try {
    await forEachLimited(
      Array.from({ length: streams }, (_, i) => i),
      16,
      async (i) => {
        if (performance.now() > deadline) return;
        const name = `cold-${String(i).padStart(5, '0')}`;
        if (await store.putStream(makeDoc(name, shardsPerStream), 0)) created++;
      },
    );
  } finally {
    await store.close();
  }
  const createSeconds = (performance.now() - started) / 1000;
  log(`cold start: ${created} streams x ${shardsPerStream} shards created in ${createSeconds.toFixed(0)} s`);
  const result: ColdResult = {
    streams: created,
    shardsPerStream,
    createSeconds,
    listeningMs: [],
    firstRequestMs: [],
    rssMiB: [],
  };
  const last = `cold-${String(created - 1).padStart(5, '0')}`;
  for (let i = 0; i < coldStarts; i++) {
    const spawned = performance.now();
    const f = await startFrontend(`${cluster.storeUrl}?prefix=${prefix}`, ['--shard-limit', '100000']);
    frontends.push(f.child);
    try {
      result.listeningMs.push(performance.now() - spawned);
      const client = new KinesisHttp(`http://127.0.0.1:${f.port}`, 1);
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            const out = await client.json<{ StreamDescriptionSummary?: { OpenShardCount?: number } }>(
              'DescribeStreamSummary',
              { StreamName: last },
            );
            if (out.StreamDescriptionSummary?.OpenShardCount !== shardsPerStream)
              throw new Error(`${last} has ${out.StreamDescriptionSummary?.OpenShardCount} open shards`);
            break;
          } catch (error) {
            if (attempt > 1_000) throw error;
            await sleep(10);
          }
        }
      } finally {
        client.close();
      }
      result.firstRequestMs.push(performance.now() - spawned);
      result.rssMiB.push((statusKiB(f.child.pid as number, 'VmRSS') ?? 0) / 1024);
    } finally {
      await stopFrontend(f.child);
    }
  }
  log(
    `cold start with ${created * shardsPerStream} shards: ${result.firstRequestMs.map(Math.round).join(', ')} ms`,
  );
  return result;
}

// ---- report -----------------------------------------------------------------------------------

const startMarker = '<!-- cluster: written by `npm run bench:cluster` (bench/cluster.ts) -->';
const endMarker = '<!-- /cluster -->';
const prefaceEnd = '<!-- /preface -->';

const n0 = (v: number) => Math.round(v).toLocaleString('en-US');
const n1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—');

function latencyText(row: Row): string {
  const list = row.latencies ?? (row.latency ? [row.latency] : []);
  return list.map((l) => `${n1(l.p50)} / ${n1(l.p99)}`).join('; ');
}

function render(
  rows: Row[],
  cold: ColdResult[],
  machine: string,
  command: string,
  busy: { before: number[]; after: number[] },
): string {
  const lines = [
    startMarker,
    '',
    '### Cluster mode (issue 8)',
    '',
    `\`${command}\` (bench/cluster.ts), ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC. ` +
      'A 3-node nats-server cluster on 127.0.0.1 (max_payload 16 MB, JetStream in temporary folders), ' +
      "raw JetStream and Sluice measured in the same run. Raw publish: the store's own pipelined " +
      `publishes with a reply inbox (src/store/nats/client.ts \`Requester\`), 1 KiB messages with a ` +
      `Nats-Msg-Id, ${rawStreams} R3 streams (as a 4-shard stream), ${rawWindow} in flight per stream ` +
      "(the store's bound per shard); raw fetch: `@nats-io/jetstream` ordered consumers, batches of " +
      '10,000. Sluice: `sluice serve --store nats://<one node> --throughput unlimited` frontends (each ' +
      'given a different node), driven by the load generator of `npm run bench` (bench/load.ts), ' +
      'one process per frontend. Records are 1 KiB; streams of Sluice are R3.',
    '',
    `Machine: ${machine}.`,
    '',
    '| workload | records | records/s | MB/s | p50 / p99 ms | frontend CPU-s | nats-server CPU-s | records per server CPU-s | client CPU-s | other processes CPU-s | seconds | frontend peak RSS MiB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const w = row.window;
    const cpu = w.frontendCpuSeconds + w.natsCpuSeconds;
    lines.push(
      `| ${row.name} | ${n0(row.records)} | ${n0(row.records / row.seconds)} | ${n1((row.records * recordBytes) / row.seconds / 1e6)} | ${latencyText(row)} | ${w.frontendPeakRssMiB > 0 ? n1(w.frontendCpuSeconds) : '—'} | ${n1(w.natsCpuSeconds)} | ${cpu > 0 ? n0(row.records / cpu) : '—'} | ${n1(w.clientCpuSeconds)} | ${n1(w.otherCpuSeconds)} | ${n1(w.seconds)} | ${w.frontendPeakRssMiB > 0 ? n0(w.frontendPeakRssMiB) : '—'} |`,
    );
  }
  const notes = rows.flatMap((r) =>
    [...(r.errors > 0 ? [`${r.errors} errors or refused records`] : []), ...r.notes].map(
      (note) => `- ${r.name}: ${note}`,
    ),
  );
  lines.push(
    '',
    "Latency: per PutRecords or GetRecords call (one figure per frontend's load generator), per " +
      'publish acknowledgement, or per 10,000-message fetch batch. CPU-seconds are taken over each ' +
      'measured window ("seconds"): servers (frontends and the three nats-servers; "records per ' +
      'server CPU-s" divides by their sum), clients (the load generators, or the benchmark process ' +
      'that publishes and fetches in the raw rows), and other processes: everything else the machine ' +
      `ran meanwhile (other users' tests), out of ${os.availableParallelism()} cores x the window. ` +
      `The machine was busy ${n0(Math.min(...rows.map((r) => r.window.machineBusyPercent)))} to ` +
      `${n0(Math.max(...rows.map((r) => r.window.machineBusyPercent)))}% during the windows; load average ` +
      `before the run ${busy.before.map((v) => v.toFixed(1)).join(', ')}, after ${busy.after.map((v) => v.toFixed(1)).join(', ')}. ` +
      'With the cores this busy, compare rows by records per server CPU-second rather than records/s.',
  );
  if (notes.length > 0) lines.push('', ...notes);
  if (fanout.length > 0) {
    lines.push(
      '',
      'SubscribeToShard put-to-event latency with 2 frontends (bench/subscribe.ts): a consumer subscribes ' +
        'through the second frontend (AWS SDK v3, HTTP/2) to a one-shard stream; PutRecord one at a time ' +
        `at ${fanoutRate}/s for ${fanoutSeconds} s with the send time in the data, through the same or the other frontend. ` +
        "A waiting subscription holds a one-message core NATS subscription on its shard's subject, so an " +
        'append through any frontend wakes it (before: the 1 s poll, p50 503 ms across frontends).',
      '',
      '| put through | p50 ms | p90 ms | p99 ms | max ms | delivered |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const f of fanout) {
      const l = f.result.putToEvent;
      lines.push(
        `| ${f.name} | ${n1(l.p50)} | ${n1(l.p90)} | ${n1(l.p99)} | ${n1(l.max)} | ${n0(f.result.received)} of ${n0(f.result.sent)} |`,
      );
    }
  }
  lines.push(
    '',
    'Cold start of a frontend: from spawning `sluice serve --store nats://...` to its first answered ' +
      `request (DescribeStreamSummary of the last stream created), ${coldStarts} starts each; the ` +
      'frontend replays the R3 metadata log (the latest entry of each stream) before it listens. The ' +
      'streams are created directly through the Store API (`NatsStore.putStream`, 16 at a time), each ' +
      'store size in its own deployment (`?prefix=`), with R1 record streams (the start never reads ' +
      'them; 10,000 R3 streams would take this machine far longer to create).',
    '',
    '| store | created in | listening after (ms) | first request answered after (ms, median) | frontend RSS MiB |',
    '| --- | ---: | ---: | ---: | ---: |',
  );
  for (const c of cold) {
    lines.push(
      `| ${n0(c.streams)} streams x ${c.shardsPerStream} shards (${n0(c.streams * c.shardsPerStream)} shards) | ${n0(c.createSeconds)} s | ${c.listeningMs.map(n0).join(', ')} | ${c.firstRequestMs.map(n0).join(', ')} (${n0(median(c.firstRequestMs))}) | ${n0(Math.max(...c.rssMiB))} |`,
    );
  }
  lines.push('', endMarker);
  return lines.join('\n');
}

function writeReport(path: string, section: string): void {
  const text = readFileSync(path, 'utf8');
  const a = text.indexOf(startMarker);
  const b = text.indexOf(endMarker);
  let next: string;
  if (a !== -1 && b > a) next = text.slice(0, a) + section + text.slice(b + endMarker.length);
  else {
    const at = text.indexOf(prefaceEnd);
    if (at === -1) throw new Error(`${path} has no ${prefaceEnd} marker`);
    next = `${text.slice(0, at)}${section}\n\n${text.slice(at)}`;
  }
  writeFileSync(path, next);
  const biome = join(root, 'node_modules/.bin/biome');
  if (existsSync(biome) && resolve(path).startsWith(`${root}/`)) {
    try {
      execFileSync(biome, ['format', '--write', path], { cwd: root, stdio: 'ignore' });
    } catch {
      log(`biome could not format ${path}`);
    }
  }
}

function machineLine(): string {
  const cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  let nats = 'nats-server';
  try {
    const bin =
      process.env.NATS_SERVER ??
      (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');
    nats = execFileSync(bin, ['--version']).toString().trim();
  } catch {
    // reported as unknown
  }
  return `${os.availableParallelism()} x ${cpu}, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}, ${nats}`;
}

async function main(): Promise<void> {
  const command = `npm run bench:cluster${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const loadBefore = os.loadavg();
  const machine = machineLine();
  log(`${command}: ${machine}`);
  const rows: Row[] = [];
  const cold: ColdResult[] = [];
  const cluster = await startNatsCluster(3);
  try {
    const natsPids = cluster.nodes.map((n) => n.child?.pid as number);
    rows.push(...(await rawJetStream(cluster, natsPids)));
    for (const count of [1, 2]) rows.push(...(await sluiceMode(cluster, natsPids, count)));
    cold.push(await coldStart(cluster, coldStreams, 2));
    cold.push(await coldStart(cluster, coldStreams, 10));
  } finally {
    for (const child of loaders) child.kill('SIGKILL');
    await Promise.all(frontends.map((child) => stopFrontend(child)));
    await cluster.stop();
  }
  const section = render(rows, cold, machine, command, { before: loadBefore, after: os.loadavg() });
  console.log(section);
  if (!values['no-write']) {
    const out = resolve(root, values.out as string);
    writeReport(out, section);
    log(`wrote ${out}`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
