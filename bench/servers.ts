/**
 * The servers the harness compares, each started as its own child process bound to 127.0.0.1 on
 * a fresh temporary folder, and what is sampled of them from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KinesisHttp, sleep } from './client.js';

export type ServerId = 'sluice' | 'noop' | 'kinesalite' | 'kinesis-local';

export interface ServerDef {
  id: ServerId;
  label: string;
  /** How it is started, for the report. */
  how: string;
  /** Why it cannot run here, if it cannot (then it is skipped and the report says why). */
  unavailable?: string;
  /** Command line and environment for a start on `port` with data kept in `dataDir`. `persist`
   * asks for the configuration that keeps data across a restart (start-up workload). */
  command(port: number, dataDir: string, persist: boolean): { args: string[]; env?: Record<string, string> };
  /** Extra node flags (e.g. --cpu-prof) for this server's processes. */
  nodeFlags?: string[];
}

export interface ServerOptions {
  root: string;
  /** Extra arguments for `sluice serve` (e.g. --memory, --fsync). */
  sluiceArgs?: string[];
  profileDir?: string;
  kinesaliteStore: 'leveldb' | 'memory';
}

export function serverDefs(options: ServerOptions): ServerDef[] {
  const { root } = options;
  const kinesisLocalMain = join(root, 'node_modules/kinesis-local/main.js');
  const kinesaliteMain = join(root, 'node_modules/kinesalite/index.js');
  return [
    {
      id: 'sluice',
      label: 'Sluice',
      how:
        '`node bin/sluice.js serve --host 127.0.0.1 --port P --data-dir <fresh temp dir>` (the embedded durable ' +
        'SQLite store, default settings) plus `--throughput unlimited` (the per-shard limits of 1 MiB/s or 1,000 ' +
        'records/s would cap a 4-shard stream at 4,000 records/s; the peers enforce none) and `--shard-limit 100000 ' +
        '--create-stream-ms 0 --delete-stream-ms 0 --update-stream-ms 0` so that set-up does not wait' +
        (options.sluiceArgs?.length ? `; extra arguments \`${options.sluiceArgs.join(' ')}\`` : ''),
      command: (port, dataDir) => ({
        args: [
          join(root, 'bin/sluice.js'),
          'serve',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--data-dir',
          join(dataDir, 'sluice-data'),
          '--shard-limit',
          '100000',
          '--create-stream-ms',
          '0',
          '--delete-stream-ms',
          '0',
          '--update-stream-ms',
          '0',
          '--throughput',
          'unlimited',
          ...(options.sluiceArgs ?? []),
        ],
      }),
      nodeFlags: options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : undefined,
    },
    {
      id: 'noop',
      label: 'no-op',
      how:
        "`node dist/bench/noop-server.js --port P`: Sluice's listener (`listen`), body reading and decoding (the " +
        'PutRecords fast path of src/api/putrecords-fast.ts, else `JSON.parse` and `decodeInput` validation), then ' +
        'canned valid answers; no engine, no store',
      command: (port) => ({ args: [join(root, 'dist/bench/noop-server.js'), '--port', String(port)] }),
    },
    {
      id: 'kinesalite',
      label: 'kinesalite',
      how:
        options.kinesaliteStore === 'leveldb'
          ? '`node dist/bench/kinesalite-server.js --port P --path <fresh temp dir>`: npm `kinesalite` 3.x through ' +
            'its JS API (to bind 127.0.0.1), LevelDB store (durable, like Sluice), `createStreamMs` 0, shard limit 100000'
          : '`node dist/bench/kinesalite-server.js --port P`: npm `kinesalite` 3.x through its JS API (to bind ' +
            '127.0.0.1), in-memory store (its default), `createStreamMs` 0, shard limit 100000',
      unavailable: existsSync(kinesaliteMain)
        ? undefined
        : 'npm package kinesalite is not installed (npm ci)',
      command: (port, dataDir, persist) => ({
        args: [
          join(root, 'dist/bench/kinesalite-server.js'),
          '--port',
          String(port),
          '--shard-limit',
          '100000',
          '--create-stream-ms',
          '0',
          ...(options.kinesaliteStore === 'leveldb' || persist ? ['--path', join(dataDir, 'leveldb')] : []),
        ],
      }),
    },
    {
      id: 'kinesis-local',
      label: 'kinesis-local',
      how:
        '`node --import dist/bench/loopback-only.js node_modules/kinesis-local/main.js` (npm `kinesis-local` is ' +
        'kinesis-mock compiled to JavaScript with Scala.js; no binary download), env `KINESIS_MOCK_PLAIN_PORT=P`, ' +
        '`CREATE_STREAM_DURATION=0ms`, `SHARD_LIMIT=100000`, in memory (its default); for start-up ' +
        '`SHOULD_PERSIST_DATA=true` (a JSON file written every 5 s). It binds 0.0.0.0 with no option, so the ' +
        'preload moves its listens to 127.0.0.1',
      unavailable: existsSync(kinesisLocalMain)
        ? undefined
        : 'npm package kinesis-local is not installed (npm ci)',
      command: (port, dataDir, persist) => ({
        args: ['--import', join(root, 'dist/bench/loopback-only.js'), kinesisLocalMain],
        env: {
          KINESIS_MOCK_PLAIN_PORT: String(port),
          KINESIS_MOCK_TLS_PORT: String(port + 1),
          KINESIS_MOCK_CERT_PATH: join(root, 'node_modules/kinesis-local/server.json'),
          CREATE_STREAM_DURATION: '0ms',
          DELETE_STREAM_DURATION: '0ms',
          REGISTER_STREAM_CONSUMER_DURATION: '0ms',
          SHARD_LIMIT: '100000',
          LOG_LEVEL: 'WARN',
          PERSIST_PATH: join(dataDir, 'kinesis-local'),
          SHOULD_PERSIST_DATA: persist ? 'true' : 'false',
          LOAD_DATA_IF_EXISTS: 'true',
        },
      }),
    },
  ];
}

/** Every running child, so that an interrupted run leaves nothing behind. */
export const children = new Set<ChildProcess>();

export function killChildren(): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
  }
}

/** A free loopback port pair (port, port + 1 for kinesis-local's TLS port). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    if (port < 65535 && (await portFree(port + 1))) return port;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export class RunningServer {
  private output = '';
  readonly exited: Promise<number | null>;

  constructor(
    readonly def: ServerDef,
    readonly proc: ChildProcess,
    readonly port: number,
    readonly dataDir: string,
    readonly spawnedAt: number,
  ) {
    children.add(proc);
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code) => {
        children.delete(proc);
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.proc.pid as number;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get log(): string {
    return this.output;
  }

  /** Poll ListStreams until it answers 200; the time from spawn to that answer, in ms. */
  async ready(timeoutMs = 60_000): Promise<number> {
    const client = new KinesisHttp(this.url, 1, 5_000);
    const deadline = performance.now() + timeoutMs;
    try {
      for (;;) {
        if (this.proc.exitCode !== null) {
          throw new Error(`${this.def.label} exited with ${this.proc.exitCode}: ${this.output.slice(-1500)}`);
        }
        // A peer that cannot bind may log it and hang rather than exit.
        if (/EADDRINUSE|Address already in use/.test(this.output))
          throw new PortInUseError(this.output.slice(-600));
        try {
          const reply = await client.call('ListStreams', '{}');
          if (reply.status === 200) return performance.now() - this.spawnedAt;
        } catch {
          // not listening yet
        }
        if (performance.now() > deadline) {
          throw new Error(
            `${this.def.label} did not answer ListStreams within ${timeoutMs} ms: ${this.output}`,
          );
        }
        await sleep(5);
      }
    } finally {
      client.close();
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export class PortInUseError extends Error {}

/** Spawn and wait for the first answer, on another free port if the one picked was taken in
 * between (other processes on the machine pick ports too). */
export async function startServer(
  def: ServerDef,
  dataDir: string,
  persist = false,
  timeoutMs = 60_000,
): Promise<{ server: RunningServer; readyMs: number }> {
  for (let attempt = 1; ; attempt++) {
    const server = spawnServer(def, await freePort(), dataDir, persist);
    try {
      return { server, readyMs: await server.ready(timeoutMs) };
    } catch (error) {
      await server.stop(5_000);
      if (!(error instanceof PortInUseError) || attempt >= 3) throw error;
    }
  }
}

export function freshDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `sluice-bench-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function spawnServer(def: ServerDef, port: number, dataDir: string, persist = false): RunningServer {
  const { args, env } = def.command(port, dataDir, persist);
  const spawnedAt = performance.now();
  const proc = spawn(process.execPath, [...(def.nodeFlags ?? []), ...args], {
    cwd: dataDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new RunningServer(def, proc, port, dataDir, spawnedAt);
}

// ---------------------------------------------------------------------------------------------
// /proc sampling

const clockTicks = (() => {
  // USER_HZ is 100 on Linux for every architecture Node supports.
  return 100;
})();

/** CPU ticks of a process (all its threads), or of its main thread alone with `mainThread`. */
function cpuTicks(pid: number, mainThread = false): number | undefined {
  try {
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function statusKiB(pid: number, key: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Machine-wide busy and total jiffies (all cores), from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export interface ProcSample {
  /** CPU time of the process over the window as a percentage of one core. */
  cpuPercent: number;
  /** CPU time of the process's main thread alone (a Node server's event loop), same unit. */
  mainThreadCpuPercent?: number;
  /** Largest resident set seen in the window (VmHWM after a reset, or sampled VmRSS), MiB. */
  peakRssMiB: number;
  /** Resident set at the end of the window, MiB. */
  endRssMiB: number;
  /** Whether VmHWM could be reset at the window's start (else the peak is from 20 Hz samples). */
  exactPeak: boolean;
}

/** Samples one process's CPU time and resident set over a window. */
export class ProcSampler {
  private startTicks = 0;
  private startMainTicks = 0;
  private startAt = 0;
  private maxRssKiB = 0;
  private timer: NodeJS.Timeout | undefined;
  private hwmReset = false;

  constructor(readonly pid: number) {}

  start(): void {
    try {
      // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      this.hwmReset = true;
    } catch {
      this.hwmReset = false;
    }
    this.startTicks = cpuTicks(this.pid) ?? 0;
    this.startMainTicks = cpuTicks(this.pid, true) ?? 0;
    this.startAt = performance.now();
    this.maxRssKiB = statusKiB(this.pid, 'VmRSS') ?? 0;
    this.timer = setInterval(() => {
      this.maxRssKiB = Math.max(this.maxRssKiB, statusKiB(this.pid, 'VmRSS') ?? 0);
    }, 50);
  }

  stop(): ProcSample {
    clearInterval(this.timer);
    const seconds = (performance.now() - this.startAt) / 1000;
    const ticks = (cpuTicks(this.pid) ?? this.startTicks) - this.startTicks;
    const mainTicks = (cpuTicks(this.pid, true) ?? this.startMainTicks) - this.startMainTicks;
    const rss = statusKiB(this.pid, 'VmRSS') ?? 0;
    const hwm = this.hwmReset ? (statusKiB(this.pid, 'VmHWM') ?? 0) : 0;
    return {
      cpuPercent: seconds > 0 ? (ticks / clockTicks / seconds) * 100 : 0,
      mainThreadCpuPercent: seconds > 0 ? (mainTicks / clockTicks / seconds) * 100 : 0,
      peakRssMiB: Math.max(this.maxRssKiB, rss, hwm) / 1024,
      endRssMiB: rss / 1024,
      exactPeak: this.hwmReset,
    };
  }
}

/** Machine-wide CPU use over a window, as a percentage of all cores. */
export class MachineSampler {
  private start = machineTicks();

  stop(): number {
    const end = machineTicks();
    const total = end.total - this.start.total;
    return total > 0 ? ((end.busy - this.start.busy) / total) * 100 : 0;
  }
}

export { statusKiB };
