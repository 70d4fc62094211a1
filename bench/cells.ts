/**
 * Cells: isolation (issue 8). Two cells, each with its own `sluice serve --cell` frontend and its
 * own nats-server of one 3-node cluster (n0 tagged `cell:a`, n1 `cell:b`, n2 untagged; record
 * streams placed by tag, `replicas=1`; each frontend connects to its cell's server). Cell B's
 * PutRecords latency is measured at a fixed moderate rate (open loop, from each call's scheduled
 * time) alone, then while cell A's frontend is offered three times its measured maximum by many
 * callers in another process. As a control, a stream of cell A is probed the same way, alone and
 * during the overload. Per-process CPU is sampled in every window: on a small machine the cells
 * share cores, and the table shows how much.
 *
 *   npm run build && node dist/bench/cells.js [--seconds 10] [--rate 10] [--records 100] [--pin]
 *
 * `--pin` gives each cell its own core (taskset: cell A's frontend, server and load generator on
 * CPU 0; cell B's frontend and server and this process, the probe, on CPU 1; n2 unpinned), as cells
 * on separate machines would have; without it the cells share the machine's cores.
 *
 * Everything binds 127.0.0.1; every phase is bounded in time and every child is stopped at the end.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startFrontend, startNatsCluster, stopFrontend } from '../test/nats-helpers.js';
import { KinesisHttp, sleep, waitActive } from './client.js';
import { MachineSampler, ProcSampler } from './servers.js';
import { summarize } from './stats.js';

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    url: { type: 'string' },
    stream: { type: 'string' },
    /** Probe: PutRecords calls per second; load: calls per second offered (0: closed loop). */
    rate: { type: 'string', default: '10' },
    /** Records of 1 KiB per PutRecords call of the probe. */
    records: { type: 'string', default: '100' },
    callers: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '10' },
    pin: { type: 'boolean', default: false },
  },
});
const seconds = Math.min(Math.max(Number(values.seconds), 1), 60);

const kib = Buffer.alloc(1024, 7).toString('base64');
function putBody(stream: string, count: number, tag: string): string {
  return JSON.stringify({
    StreamName: stream,
    Records: Array.from({ length: count }, (_, i) => ({ PartitionKey: `${tag}-${i}`, Data: kib })),
  });
}

interface LoadResult {
  seconds: number;
  sent: number;
  ok: number;
  shed: number;
  errors: number;
  notSent: number;
}

/**
 * The overloading caller (a child process, so its CPU is not the probe's): PutRecords of 500 x
 * 1 KiB, closed loop with `callers` callers, or open loop at `rate` calls/s with at most
 * `callers` in flight (calls that find them all busy are not sent, and counted).
 */
async function load(url: string, stream: string, rate: number, callers: number): Promise<LoadResult> {
  const client = new KinesisHttp(url, callers, 30_000);
  const body = putBody(stream, 500, 'load');
  const result: LoadResult = { seconds, sent: 0, ok: 0, shed: 0, errors: 0, notSent: 0 };
  const deadline = Date.now() + seconds * 1000;
  let inFlight = 0;
  const one = async () => {
    inFlight++;
    result.sent++;
    try {
      const reply = await client.call('PutRecords', body);
      if (reply.status === 200) result.ok++;
      else if (reply.status === 503) result.shed++;
      else result.errors++;
    } catch {
      result.errors++;
    } finally {
      inFlight--;
    }
  };
  if (rate <= 0) {
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (Date.now() < deadline) await one();
      }),
    );
  } else {
    const pending = new Set<Promise<void>>();
    const start = performance.now();
    for (let n = 0; ; n++) {
      const due = start + (n * 1000) / rate;
      if (due > start + seconds * 1000) break;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (inFlight >= callers) {
        result.notSent++;
        continue;
      }
      const p = one().finally(() => pending.delete(p));
      pending.add(p);
    }
    await Promise.all(pending);
  }
  client.close();
  return result;
}

interface ProbeResult {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  ok: number;
  failed: number;
  skipped: number;
}

/** PutRecords at a fixed rate (open loop); latency from each call's scheduled time. */
async function probe(client: KinesisHttp, stream: string, rate: number, count: number, window: number) {
  const body = putBody(stream, count, 'probe');
  const latencies: number[] = [];
  let failed = 0;
  let skipped = 0;
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const start = performance.now();
  for (let n = 0; ; n++) {
    const due = start + (n * 1000) / rate;
    if (due > start + window * 1000) break;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    if (inFlight >= 64) {
      skipped++;
      continue;
    }
    inFlight++;
    const p = client
      .call('PutRecords', body)
      .then(
        (reply) => {
          if (reply.status === 200 && !/"FailedRecordCount":[1-9]/.test(reply.body.toString()))
            latencies.push(performance.now() - due);
          else failed++;
        },
        () => {
          failed++;
        },
      )
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  }
  await Promise.all(pending);
  const s = summarize(latencies);
  return { p50: s.p50, p90: s.p90, p99: s.p99, max: s.max, ok: s.count, failed, skipped } as ProbeResult;
}

/** Run the overloading caller as a child process; resolves to its result. */
function spawnLoad(url: string, stream: string, rate: number, callers: number, window: number) {
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      '--role',
      'load',
      '--url',
      url,
      '--stream',
      stream,
      '--rate',
      String(rate),
      '--callers',
      String(callers),
      '--seconds',
      String(window),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  loadChildren.add(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise<LoadResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), (window + 60) * 1000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      loadChildren.delete(child);
      if (code === 0) resolve(JSON.parse(out) as LoadResult);
      else reject(new Error(`load process exited with ${code}`));
    });
  });
  return { child, done };
}

/** Pin a process and all its threads to one CPU (with --pin). */
function pin(pid: number | undefined, cpu: number): void {
  if (!values.pin || pid === undefined) return;
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

const loadChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of loadChildren) child.kill('SIGKILL');
});

interface Row {
  phase: string;
  target: string;
  probe: ProbeResult;
  load?: LoadResult;
  cpu: Record<string, number>;
}

async function main(): Promise<void> {
  const rate = Number(values.rate);
  const count = Number(values.records);
  // n0: cell a's record streams, n1: cell b's, n2: untagged; the metadata log (R1) is placed by
  // JetStream on any of them.
  const nats = await startNatsCluster(3, [['cell:a'], ['cell:b'], []]);
  const frontends: ChildProcess[] = [];
  try {
    const options = '?replicas=1&placement=cell';
    const fa = await startFrontend(`nats://${nats.servers[0]}${options}`, ['--cell', 'a']);
    frontends.push(fa.child);
    const fb = await startFrontend(`nats://${nats.servers[1]}${options}`, ['--cell', 'b']);
    frontends.push(fb.child);
    const urlA = `http://127.0.0.1:${fa.port}`;
    const urlB = `http://127.0.0.1:${fb.port}`;
    const a = new KinesisHttp(urlA, 64, 30_000);
    const b = new KinesisHttp(urlB, 64, 30_000);
    await a.json('CreateStream', { StreamName: 'a-load', ShardCount: 4 });
    await a.json('CreateStream', { StreamName: 'a-probe', ShardCount: 4 });
    await b.json('CreateStream', { StreamName: 'b-probe', ShardCount: 4 });
    await waitActive(a, 'a-load');
    await waitActive(a, 'a-probe');
    await waitActive(b, 'b-probe');

    pin(fa.child.pid, 0);
    pin(nats.nodes[0]?.child?.pid, 0);
    pin(fb.child.pid, 1);
    pin(nats.nodes[1]?.child?.pid, 1);
    pin(process.pid, 1);
    const pids: Record<string, number | undefined> = {
      'frontend A': fa.child.pid,
      'frontend B': fb.child.pid,
      'nats n0 (cell:a)': nats.nodes[0]?.child?.pid,
      'nats n1 (cell:b)': nats.nodes[1]?.child?.pid,
      'nats n2': nats.nodes[2]?.child?.pid,
    };
    const rows: Row[] = [];
    const measure = async (
      phase: string,
      target: string,
      client: KinesisHttp,
      stream: string,
      extra: Record<string, number | undefined> = {},
    ) => {
      const samplers = Object.entries({ ...pids, ...extra }).flatMap(([name, pid]) =>
        pid === undefined ? [] : [[name, new ProcSampler(pid)] as const],
      );
      for (const [, s] of samplers) s.start();
      const machine = new MachineSampler();
      const result = await probe(client, stream, rate, count, seconds);
      const cpu: Record<string, number> = {};
      for (const [name, s] of samplers) cpu[name] = s.stop().cpuPercent;
      cpu.machine = machine.stop();
      const row: Row = { phase, target, probe: result, cpu };
      rows.push(row);
      console.error(`${phase} / ${target}: p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms`);
      return row;
    };

    // Warm up both cells' paths, then the baselines.
    await probe(b, 'b-probe', rate, count, 2);
    await probe(a, 'a-probe', rate, count, 2);
    await measure('alone', 'cell B stream (other cell)', b, 'b-probe');
    await measure('alone', 'cell A stream (same cell)', a, 'a-probe');

    // Cell A's maximum: closed loop, 8 callers of 500 x 1 KiB.
    const calibration = spawnLoad(urlA, 'a-load', 0, 8, 5);
    pin(calibration.child.pid, 0);
    const calibrate = await calibration.done;
    const maxRate = calibrate.ok / calibrate.seconds;
    const offered = Math.max(1, Math.round(maxRate * 3));
    console.error(`cell A maximum: ${maxRate.toFixed(1)} PutRecords/s of 500 x 1 KiB; offering ${offered}/s`);

    // Cell A overloaded: 3x its maximum, up to 128 callers in flight, for both probe windows.
    const overload = spawnLoad(urlA, 'a-load', offered, 128, seconds * 2 + 4);
    pin(overload.child.pid, 0);
    await sleep(2_000);
    const loaded = { 'load generator': overload.child.pid };
    const rowB = await measure('cell A at 3x', 'cell B stream (other cell)', b, 'b-probe', loaded);
    const rowA = await measure('cell A at 3x', 'cell A stream (same cell)', a, 'a-probe', loaded);
    const result = await overload.done;
    rowB.load = result;
    rowA.load = result;
    a.close();
    b.close();
    report(rows, maxRate, offered, result, rate, count);
  } finally {
    await Promise.all(frontends.map((f) => stopFrontend(f)));
    await nats.stop();
  }
}

function report(
  rows: Row[],
  maxRate: number,
  offered: number,
  load: LoadResult,
  rate: number,
  count: number,
) {
  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
  const pct = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)}%`);
  const lines = [
    `${values.pin ? 'Each cell on its own core (--pin). ' : 'Cells sharing both cores. '}Probe: PutRecords of ${count} x 1 KiB at ${rate} calls/s (${rate * count} records/s), open loop, ` +
      `${seconds} s per window, latency from each call's scheduled time. Cell A's maximum: ` +
      `${maxRate.toFixed(1)} PutRecords/s of 500 x 1 KiB (8 callers); overload offered ${offered}/s ` +
      `(3x) with up to 128 in flight: ${load.ok} answered 200, ${load.shed} shed with 503, ` +
      `${load.errors} other errors, ${load.notSent} not sent (all callers busy) in ${load.seconds} s.`,
    '',
    '| cell A | probed stream | p50 ms | p90 ms | p99 ms | max ms | ok / failed | CPU frontend A | CPU frontend B | CPU nats n0 (cell:a) | CPU nats n1 (cell:b) | CPU nats n2 | CPU load generator | machine CPU (2 cores) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.phase} | ${r.target} | ${ms(r.probe.p50)} | ${ms(r.probe.p90)} | ${ms(r.probe.p99)} | ` +
        `${ms(r.probe.max)} | ${r.probe.ok} / ${r.probe.failed + r.probe.skipped} | ${pct(r.cpu['frontend A'])} | ` +
        `${pct(r.cpu['frontend B'])} | ${pct(r.cpu['nats n0 (cell:a)'])} | ${pct(r.cpu['nats n1 (cell:b)'])} | ` +
        `${pct(r.cpu['nats n2'])} | ${pct(r.cpu['load generator'])} | ${pct(r.cpu.machine)} |`,
    ),
    '',
    'CPU: percent of one core over the window (machine: of all cores).',
    '',
    `Command: \`npm run build && node dist/bench/cells.js --seconds ${seconds} --rate ${rate} --records ${count}${values.pin ? ' --pin' : ''}\``,
  ];
  console.log(lines.join('\n'));
}

if (values.role === 'load') {
  if (!values.url || !values.stream) throw new Error('--role load needs --url and --stream');
  const result = await load(values.url, values.stream, Number(values.rate), Number(values.callers));
  process.stdout.write(JSON.stringify(result));
} else {
  await main();
}
