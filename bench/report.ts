/** BENCHMARKS.md from a run's results (bench/run.ts). The hand-written preface between the
 * preface markers of the previous file is kept; everything else is generated. */
import type { Row, StartupResult, WorkloadResult } from './run.js';
import { median } from './stats.js';
import type { SubscribeResult } from './subscribe.js';

export interface Report {
  command: string;
  started: string;
  finished: string;
  quick: boolean;
  seconds: number;
  sizes: Record<string, number>;
  machine: {
    nproc: number;
    memoryGiB: number;
    node: string;
    cpu: string;
    kernel: string;
    loadBefore: number[];
    loadAfter: number[];
  };
  servers: { id: string; label: string; how: string; skipped?: string }[];
  workloads: WorkloadResult[];
  workloadIds: string[];
  profileDir?: string;
}

const prefaceStart = '<!-- preface: hand-written, kept by `npm run bench` -->';
const prefaceEnd = '<!-- /preface -->';
const defaultPreface = `Numbers from \`npm run bench\` (bench/run.ts): Sluice against kinesalite, kinesis-local and a
no-op server built from Sluice's own listener and request validation, side by side in one run on one
machine. Re-run it to refresh everything below the preface.`;

const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const fmt1 = (n: number) => (Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : 1) : '–');
const fmt2 = (n: number) => (Number.isFinite(n) ? n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2) : '–');

function ratio(value: number | undefined, reference: number | undefined): string {
  if (
    value === undefined ||
    reference === undefined ||
    !Number.isFinite(value) ||
    !Number.isFinite(reference)
  ) {
    return '–';
  }
  if (reference === 0) return '–';
  const r = value / reference;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}×`;
}

/** A cell: the value and its ratios to kinesalite and to the no-op server. */
function cell(
  text: string,
  server: string,
  value: number | undefined,
  kl: number | undefined,
  noop: number | undefined,
): string {
  const parts: string[] = [];
  if (server !== 'kinesalite' && kl !== undefined) parts.push(`${ratio(value, kl)} kl`);
  if (server !== 'noop' && noop !== undefined) parts.push(`${ratio(value, noop)} no-op`);
  return parts.length ? `${text} (${parts.join(', ')})` : text;
}

interface Metrics {
  rps?: number;
  mbps?: number;
  p50?: number;
  p99?: number;
  rss?: number;
  cpu?: number;
  /** Records per CPU-second of the server: robust to a busy machine taking cores away. */
  perCpu?: number;
}

function metricsOf(row: Row | undefined): Metrics | undefined {
  const l = row?.load;
  if (!l || row?.error || row?.skipped) return undefined;
  return {
    rps: l.records / l.seconds,
    mbps: l.bytes / l.seconds / 1e6,
    p50: l.latency.p50,
    p99: l.latency.p99,
    rss: row?.serverProc?.peakRssMiB,
    cpu: row?.serverProc?.cpuPercent,
    perCpu: row?.serverProc?.cpuPercent
      ? l.records / l.seconds / (row.serverProc.cpuPercent / 100)
      : undefined,
  };
}

function loadTable(w: WorkloadResult, cores: number): string[] {
  const kl = metricsOf(w.rows.find((r) => r.server === 'kinesalite'));
  const noop = metricsOf(w.rows.find((r) => r.server === 'noop'));
  const lines = [
    '| server | records/s | MB/s | p50 ms | p99 ms | server peak RSS MiB | server CPU % | records per server CPU-second | load generator CPU % | errors |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --- |',
  ];
  const notes: string[] = [];
  for (const row of w.rows) {
    if (row.skipped || row.error || !row.load) {
      lines.push(
        `| ${row.label} | ${row.skipped ? `skipped: ${row.skipped}` : `failed: ${oneLine(row.error ?? '')}`} | | | | | | | | |`,
      );
      continue;
    }
    const m = metricsOf(row) ?? {};
    const l = row.load;
    const s = row.server;
    const errorText = [
      l.errors ? `${fmtInt(l.errors)} failed requests` : '',
      l.failedRecords ? `${fmtInt(l.failedRecords)} refused records` : '',
      l.dropped ? `${fmtInt(l.dropped)} requests dropped or unfinished` : '',
      l.errorSamples.length ? `e.g. \`${oneLine(l.errorSamples[0] ?? '').slice(0, 120)}\`` : '',
    ]
      .filter(Boolean)
      .join('; ');
    lines.push(
      `| ${row.label} | ${cell(fmtInt(m.rps ?? 0), s, m.rps, kl?.rps, noop?.rps)} | ${cell(fmt1(m.mbps ?? 0), s, m.mbps, kl?.mbps, noop?.mbps)} | ` +
        `${cell(fmt2(m.p50 ?? NaN), s, m.p50, kl?.p50, noop?.p50)} | ${cell(fmt2(m.p99 ?? NaN), s, m.p99, kl?.p99, noop?.p99)} | ` +
        `${cell(fmtInt(m.rss ?? NaN), s, m.rss, kl?.rss, noop?.rss)} | ${cell(fmtInt(m.cpu ?? NaN), s, m.cpu, kl?.cpu, noop?.cpu)} | ` +
        `${cell(fmtInt(m.perCpu ?? NaN), s, m.perCpu, kl?.perCpu, noop?.perCpu)} | ` +
        `${fmtInt(row.clientProc?.cpuPercent ?? NaN)} | ${errorText || '0'} |`,
    );
    for (const note of l.notes) notes.push(`${row.label}: ${note}.`);
    if (l.targetRecordsPerSec !== undefined) {
      notes.push(
        `${row.label}: asked for ${fmtInt(l.targetRecordsPerSec)} records/s, ${fmtInt(l.records / l.seconds)} acknowledged; p99.9 ${fmt2(l.latency.p999)} ms, max ${fmt2(l.latency.max)} ms.`,
      );
    }
    if (l.filled) {
      notes.push(
        `${row.label}: pre-filled ${fmtInt(l.filled.records)} records in ${fmt1(l.filled.seconds)} s.`,
      );
    }
    if ((row.clientProc?.cpuPercent ?? 0) >= 75) {
      notes.push(
        `${row.label}: the load generator used ${fmtInt(row.clientProc?.cpuPercent ?? 0)}% of a core, near its limit: this server may serve more than it was offered.`,
      );
    }
  }
  const noise = w.rows
    .filter((r) => r.machineBusyPercent !== undefined)
    .map((r) => `${r.label} ${fmtInt(otherLoad(r, cores))}%`);
  if (noise.length) {
    notes.push(
      `CPU used by other processes on the machine (neither the server nor the load generator), as a share of all its cores, during each measurement: ${noise.join(', ')}.`,
    );
  }
  const sluice = w.rows.find((r) => r.server === 'sluice' && r.load && r.serverProc?.mainThreadCpuPercent);
  if (sluice?.load && sluice.serverProc?.mainThreadCpuPercent) {
    const proc = sluice.serverProc;
    const rate = sluice.load.records / sluice.load.seconds;
    const main = proc.mainThreadCpuPercent ?? 0;
    notes.push(
      `Sluice's event-loop thread used ${fmtInt(main)}% of a core of its ${fmtInt(proc.cpuPercent)}% (the rest is mostly the SQLite worker thread): ` +
        `${rate > 0 ? ((main * 1e4) / rate).toFixed(1) : '-'} us of event loop per record.`,
    );
  }
  return [...lines, '', ...notes.map((n) => `- ${n}`)];
}

/** Share of the machine's CPU used by others during a row's measurement, in %. */
function otherLoad(row: Row, cores: number): number {
  const own = ((row.serverProc?.cpuPercent ?? 0) + (row.clientProc?.cpuPercent ?? 0)) / cores;
  return Math.max(0, (row.machineBusyPercent ?? 0) - own);
}

function startupTable(w: WorkloadResult): string[] {
  const kl = w.rows.find((r) => r.server === 'kinesalite')?.startup;
  const noop = w.rows.find((r) => r.server === 'noop')?.startup;
  const lines = [
    '| server | streams stored | records stored | pre-fill time s | start-up ms (median) | min – max ms | RSS after start MiB | data on disk MiB |',
    '| --- | --: | --: | --: | --: | --: | --: | --: |',
  ];
  const notes: string[] = [];
  for (const row of w.rows) {
    const s = row.startup;
    if (!s) {
      lines.push(
        `| ${row.label} | ${row.skipped ? `skipped: ${row.skipped}` : `failed: ${oneLine(row.error ?? '')}`} | | | | | | |`,
      );
      continue;
    }
    const med = median(s.startsMs);
    lines.push(
      `| ${row.label} | ${fmtInt(s.streams)} | ${fmtInt(s.records)} | ${row.server === 'noop' ? '–' : fmt1(s.fillSeconds)} | ` +
        `${cell(fmtInt(med), row.server, med, kl && median(kl.startsMs), noop && median(noop.startsMs))} | ` +
        `${fmtInt(Math.min(...s.startsMs))} – ${fmtInt(Math.max(...s.startsMs))} | ${fmtInt(s.rssAfterStartMiB)} | ${fmt1(s.storedMiB ?? NaN)} |`,
    );
    for (const note of s.notes) notes.push(`${row.label}: ${note}.`);
  }
  return [...lines, '', ...notes.map((n) => `- ${n}`)];
}

function subscribeTable(w: WorkloadResult): string[] {
  const lines = [
    '| server | records received / put | events | put-to-event p50 ms | p90 ms | p99 ms | max ms | PutRecord ack p50 / p99 ms | server CPU % | server peak RSS MiB |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: |',
  ];
  const notes: string[] = [];
  for (const row of w.rows) {
    const s: SubscribeResult | undefined = row.subscribe;
    if (!s) {
      lines.push(
        `| ${row.label} | ${row.skipped ? `skipped: ${row.skipped}` : `failed: ${oneLine(row.error ?? '')}`} | | | | | | | | |`,
      );
      continue;
    }
    const e = s.putToEvent;
    lines.push(
      `| ${row.label} | ${fmtInt(s.received)} / ${fmtInt(s.sent)} | ${fmtInt(s.events)} | ${fmt2(e.p50)} | ${fmt2(e.p90)} | ${fmt2(e.p99)} | ${fmt2(e.max)} | ` +
        `${fmt2(s.putAck.p50)} / ${fmt2(s.putAck.p99)} | ${fmtInt(row.serverProc?.cpuPercent ?? NaN)} | ${fmtInt(row.serverProc?.peakRssMiB ?? NaN)} |`,
    );
    for (const note of s.notes) notes.push(`${row.label}: ${note}.`);
  }
  return [...lines, '', ...notes.map((n) => `- ${n}`)];
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').replaceAll('|', '\\|').slice(0, 300);
}

interface Target {
  name: string;
  measured: string;
  met: boolean | undefined;
  margin: string;
}

function targets(report: Report): Target[] {
  const w = (id: string) => report.workloads.find((x) => x.id === id);
  const row = (id: string, server: string) => w(id)?.rows.find((r) => r.server === server);
  const out: Target[] = [];
  const rate = (id: string, server: string) => metricsOf(row(id, server))?.rps;

  const atLeast = (name: string, value: number | undefined, goal: number, unit: (v: number) => string) => {
    if (value === undefined || !Number.isFinite(value)) {
      out.push({ name, measured: 'not measured', met: undefined, margin: '' });
      return;
    }
    const met = value >= goal;
    const pct = ((value / goal - 1) * 100).toFixed(0);
    out.push({
      name,
      measured: unit(value),
      met,
      margin: met ? `${pct}% above the target` : `${Math.abs(Number(pct))}% short of the target`,
    });
  };
  const below = (name: string, value: number | undefined, goal: number, unit: (v: number) => string) => {
    if (value === undefined || !Number.isFinite(value)) {
      out.push({ name, measured: 'not measured', met: undefined, margin: '' });
      return;
    }
    const met = value < goal;
    out.push({
      name,
      measured: unit(value),
      met,
      margin: met
        ? `${((1 - value / goal) * 100).toFixed(0)}% under the limit`
        : `${((value / goal - 1) * 100).toFixed(0)}% over the limit`,
    });
  };

  const s16 = rate('put-1k-16', 'sluice');
  const k16 = rate('put-1k-16', 'kinesalite');
  const n16 = rate('put-1k-16', 'noop');
  atLeast(
    'PutRecords 500 x 1 KiB, 16 callers: ≥ 10× kinesalite',
    s16 !== undefined && k16 !== undefined ? s16 / k16 : undefined,
    10,
    (v) => `${v.toFixed(1)}× (${fmtInt(s16 ?? NaN)} vs ${fmtInt(k16 ?? NaN)} records/s)`,
  );
  atLeast(
    'PutRecords 500 x 1 KiB, 16 callers: ≥ 70% of the no-op server',
    s16 !== undefined && n16 !== undefined ? s16 / n16 : undefined,
    0.7,
    (v) => `${(v * 100).toFixed(0)}% (${fmtInt(s16 ?? NaN)} vs ${fmtInt(n16 ?? NaN)} records/s)`,
  );
  const sd = rate('drain', 'sluice');
  const kd = rate('drain', 'kinesalite');
  atLeast(
    'GetRecords drain of 4 shards: ≥ 10× kinesalite',
    sd !== undefined && kd !== undefined ? sd / kd : undefined,
    10,
    (v) => `${v.toFixed(1)}× (${fmtInt(sd ?? NaN)} vs ${fmtInt(kd ?? NaN)} records/s)`,
  );
  const half = row('put-half-p99', 'sluice')?.load;
  below(
    'PutRecords p99 at half of maximum throughput: < 20 ms',
    half && half.records > 0 ? half.latency.p99 : undefined,
    20,
    (v) => `${fmt2(v)} ms at ${fmtInt(half?.targetRecordsPerSec ?? NaN)} records/s`,
  );
  const putIds = ['put-1k-1', 'put-1k-16', 'putrecord-16', 'put-100b-16', 'put-100k-16', 'put-half-p99'];
  const rssRows = putIds
    .map((id) => ({ id, rss: row(id, 'sluice')?.serverProc?.peakRssMiB }))
    .filter((x): x is { id: string; rss: number } => x.rss !== undefined);
  const worst = [...rssRows].sort((a, b) => b.rss - a.rss)[0];
  below(
    'Peak RSS during PutRecords: < 300 MiB',
    worst?.rss,
    300,
    (v) =>
      `${fmtInt(v)} MiB, the highest, in ${w(worst?.id ?? '')?.title ?? worst?.id} (each PutRecords workload: ${rssRows
        .map((r) => `${r.id} ${fmtInt(r.rss)}`)
        .join(', ')})`,
  );
  const st: StartupResult | undefined = row('startup', 'sluice')?.startup;
  below(
    `Start-up with 1,000 streams and 1M records: < 1 s`,
    st ? median(st.startsMs) / 1000 : undefined,
    1,
    (v) =>
      `${fmtInt(v * 1000)} ms median with ${fmtInt(st?.streams ?? 0)} streams and ${fmtInt(st?.records ?? 0)} records` +
      (st && (st.streams < 1000 || st.records < 1_000_000)
        ? ' (fewer than the target asks: a quick run)'
        : ''),
  );
  return out;
}

export function renderReport(report: Report, previous: string): string {
  const a = previous.indexOf(prefaceStart);
  const b = previous.indexOf(prefaceEnd);
  const preface = a !== -1 && b > a ? previous.slice(a + prefaceStart.length, b).trim() : defaultPreface;
  const m = report.machine;
  const minutes = (Date.parse(report.finished) - Date.parse(report.started)) / 60_000;
  const lines: string[] = [
    '# Benchmarks',
    '',
    prefaceStart,
    '',
    preface,
    '',
    prefaceEnd,
    '',
    '<!-- Everything below is generated by `npm run bench` (bench/run.ts, bench/report.ts). -->',
    '',
    '## Run',
    '',
    `- Command: \`${report.command}\`${report.quick ? ' (quick mode: a smoke run, not for comparison)' : ''}`,
    `- Date: ${report.started.replace('T', ' ').slice(0, 19)} UTC, ${minutes.toFixed(1)} minutes`,
    `- Machine: ${m.nproc} cores (nproc), ${m.memoryGiB.toFixed(1)} GiB memory, CPU \`${m.cpu}\`, ${m.kernel}, Node ${m.node}`,
    `- Load average (1, 5, 15 min) before: ${m.loadBefore.map((x) => x.toFixed(2)).join(', ')}; after: ${m.loadAfter.map((x) => x.toFixed(2)).join(', ')}`,
    `- ${report.seconds} s per timed workload; every server and load generator is a separate process; each (workload, server) pair starts a fresh server on a fresh temporary folder, bound to 127.0.0.1.`,
    ...(report.profileDir ? [`- Sluice ran with \`--cpu-prof\`; profiles in \`${report.profileDir}\``] : []),
    '',
    '## Servers',
    '',
    '| server | how it is started | status |',
    '| --- | --- | --- |',
    ...report.servers.map(
      (s) => `| ${s.label} | ${s.how} | ${s.skipped ? `skipped: ${oneLine(s.skipped)}` : 'ran'} |`,
    ),
    '',
    '## Targets',
    '',
    '| target | measured | met? | by how much |',
    '| --- | --- | --- | --- |',
    ...targets(report).map(
      (t) =>
        `| ${t.name} | ${t.measured} | ${t.met === undefined ? '–' : t.met ? 'met' : '**missed**'} | ${t.margin} |`,
    ),
    '',
    '## Results',
    '',
    'Ratios in parentheses are the value divided by kinesalite\'s ("kl") and by the no-op server\'s, for every column: ' +
      'above 1× is more records/s, but also more latency, memory or CPU. MB/s is record payload (10^6 bytes), not wire bytes. ' +
      'Latency is per request, measured by the load generator. CPU % is CPU time over wall time of the measured phase ' +
      '(100% = one core); peak RSS is VmHWM of the server process, reset with /proc/PID/clear_refs when the measured phase ' +
      'starts (VmRSS sampled at 20 Hz as well).',
    '',
  ];
  for (const w of report.workloads) {
    lines.push(`### ${w.title}`, '', w.description, '');
    if (w.kind === 'load') lines.push(...loadTable(w, m.nproc));
    else if (w.kind === 'startup') lines.push(...startupTable(w));
    else lines.push(...subscribeTable(w));
    for (const note of w.notes) lines.push(`- ${note}`);
    lines.push('');
  }
  lines.push(
    '## Re-running',
    '',
    '```sh',
    'npm ci && npm run bench              # full run, about 15 minutes on 2 cores; rewrites BENCHMARKS.md',
    'npm run bench -- --quick             # smoke run: 2 s per workload, small pre-fills',
    'npm run bench -- --servers sluice,noop --workloads put-1k-16 --out /tmp/b.md',
    'npm run bench -- --workloads put-1k-16 --servers sluice --profile /tmp/prof   # node --cpu-prof on Sluice',
    '```',
    '',
    `Workload ids: ${report.workloadIds.map((id) => `\`${id}\``).join(', ')}. Options are listed at the top of bench/run.ts.`,
    '',
  );
  return lines.join('\n');
}
