/**
 * `sluice cluster up | down | status`: a local NATS JetStream cluster on loopback and a fleet of
 * `sluice serve --store nats://...` frontends, for development and tests. Everything lives in one
 * folder: each process's configuration, data, log and pid file, and `cluster.json` (the layout),
 * so `down` and `status` need only the folder.
 */
import { spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, InvalidArgumentError } from 'commander';
import { cluster as limits } from '../limits.js';

export interface ClusterLayout {
  dir: string;
  natsServer: string;
  nodes: Array<{ name: string; port: number; clusterPort: number }>;
  storeUrl: string;
  frontends: Array<{ name: string; port: number }>;
  serveArgs: string[];
}

const layoutFile = (dir: string) => join(dir, 'cluster.json');
const pidFile = (dir: string, name: string) => join(dir, `${name}.pid`);
const logFile = (dir: string, name: string) => join(dir, `${name}.log`);

/** nats-server from --nats-server, $NATS_SERVER, the PATH, or /usr/sbin (Debian's package). */
export function findNatsServer(
  given?: string,
  search = { env: process.env.NATS_SERVER, path: process.env.PATH ?? '', fallback: '/usr/sbin/nats-server' },
): string {
  const candidates = given
    ? [given]
    : [
        ...(search.env ? [search.env] : []),
        ...search.path
          .split(delimiter)
          .filter((d) => d.length > 0)
          .map((d) => join(d, 'nats-server')),
        search.fallback,
      ];
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  throw new Error(
    given
      ? `nats-server not found or not executable at ${given}`
      : `nats-server not found (looked on PATH and at ${search.fallback}). Install it: on Debian or ` +
          'Ubuntu `apt-get install nats-server` (2.9 or later), or a release from ' +
          'https://github.com/nats-io/nats-server/releases; or name it with --nats-server PATH or NATS_SERVER.',
  );
}

/** One node's configuration: JetStream on, max_payload for 10 MiB records plus headers. */
export function natsConfig(layout: ClusterLayout, index: number): string {
  const node = layout.nodes[index] as ClusterLayout['nodes'][number];
  const lines = [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.port}`,
    // Records reach 10 MiB (UpdateMaxRecordSize) plus headers; the default is 1 MB and the store
    // refuses to open below 10 MiB + 64 KiB.
    'max_payload: 16MB',
    `jetstream { store_dir: ${JSON.stringify(join(layout.dir, node.name))} }`,
  ];
  if (layout.nodes.length > 1) {
    lines.push(
      'cluster {',
      '  name: sluice',
      `  listen: 127.0.0.1:${node.clusterPort}`,
      `  routes: [${layout.nodes.map((n) => `nats-route://127.0.0.1:${n.clusterPort}`).join(', ')}]`,
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The pid in a pid file, if that process is alive (and, where /proc tells, runs `marker`). */
export function livePid(dir: string, name: string, marker: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile(dir, name), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  // A pid reused by an unrelated process is not ours to signal.
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!cmdline.includes(marker)) return undefined;
  } catch {
    // no /proc: trust the pid file
  }
  return pid;
}

function spawnDetached(dir: string, name: string, command: string, args: string[]): number {
  const fd = openSync(logFile(dir, name), 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], cwd: dir });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  writeFileSync(pidFile(dir, name), `${child.pid}\n`);
  return child.pid;
}

/** Wait until `pattern` appears in a log written after `offset`, or the process dies. */
async function waitForLog(
  dir: string,
  name: string,
  offset: number,
  pattern: RegExp,
  pid: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readLog(dir, name).slice(offset);
    if (pattern.test(text)) return;
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive || Date.now() > deadline) {
      const tail = text.split('\n').slice(-15).join('\n');
      throw new Error(
        `${name} ${alive ? `did not start within ${timeoutMs} ms` : 'exited'}; ${logFile(dir, name)} ends with:\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function readLog(dir: string, name: string): string {
  try {
    return readFileSync(logFile(dir, name), 'utf8');
  } catch {
    return '';
  }
}

export interface UpOptions {
  dir: string;
  nodes: number;
  natsPort: number;
  clusterPort: number;
  port: number;
  frontends: number;
  natsServer?: string;
  serveArgs: string[];
  log?: (line: string) => void;
}

const sluiceBin = fileURLToPath(new URL('../../../bin/sluice.js', import.meta.url));

/** Start the nodes, wait for each, then the frontends, waiting for each to listen. */
export async function clusterUp(options: UpOptions): Promise<ClusterLayout> {
  const log = options.log ?? (() => {});
  const dir = resolve(options.dir);
  const natsServer = findNatsServer(options.natsServer);
  if (existsSync(layoutFile(dir))) {
    const running = runningProcesses(readLayout(dir));
    if (running.length > 0) {
      throw new Error(
        `a cluster is already running in ${dir} (${running.map((p) => `${p.name} pid ${p.pid}`).join(', ')}): ` +
          `stop it with sluice cluster down --dir ${options.dir}`,
      );
    }
  }
  mkdirSync(dir, { recursive: true });
  const nodes = Array.from({ length: options.nodes }, (_, i) => ({
    name: `n${i + 1}`,
    port: options.natsPort + i,
    clusterPort: options.clusterPort + i,
  }));
  const layout: ClusterLayout = {
    dir,
    natsServer,
    nodes,
    storeUrl: `nats://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    frontends: Array.from({ length: options.frontends }, (_, i) => ({
      name: `frontend-${i + 1}`,
      port: options.port + i,
    })),
    serveArgs: options.serveArgs,
  };
  writeFileSync(layoutFile(dir), `${JSON.stringify(layout, null, 2)}\n`);
  try {
    const started = nodes.map((node, i) => {
      const conf = join(dir, `${node.name}.conf`);
      writeFileSync(conf, natsConfig(layout, i));
      const offset = readLog(dir, node.name).length;
      return { node, offset, pid: spawnDetached(dir, node.name, natsServer, ['-c', conf]) };
    });
    for (const { node, offset, pid } of started) {
      await waitForLog(dir, node.name, offset, /Server is ready/, pid, limits.natsStartTimeoutMs);
      log(`${node.name}: nats-server pid ${pid}, client port ${node.port}`);
    }
    // Frontends start together; each waits for JetStream (a new cluster elects its metadata
    // leader in a few seconds) before it listens.
    const frontends = layout.frontends.map((f) => {
      const offset = readLog(dir, f.name).length;
      const args = [
        sluiceBin,
        'serve',
        '--port',
        String(f.port),
        '--store',
        layout.storeUrl,
        ...options.serveArgs,
      ];
      return { f, offset, pid: spawnDetached(dir, f.name, process.execPath, args) };
    });
    for (const { f, offset, pid } of frontends) {
      await waitForLog(dir, f.name, offset, /sluice listening on/, pid, limits.frontendStartTimeoutMs);
      log(`${f.name}: sluice serve pid ${pid}, http://127.0.0.1:${f.port}`);
    }
  } catch (error) {
    await clusterDown(dir);
    throw error;
  }
  return layout;
}

export function readLayout(dir: string): ClusterLayout {
  const file = layoutFile(resolve(dir));
  if (!existsSync(file))
    throw new Error(`no cluster in ${dir} (no cluster.json): start one with sluice cluster up`);
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterLayout;
}

interface Running {
  name: string;
  pid: number;
  kind: 'frontend' | 'node';
}

function runningProcesses(layout: ClusterLayout): Running[] {
  const running: Running[] = [];
  for (const f of layout.frontends) {
    const pid = livePid(layout.dir, f.name, 'sluice');
    if (pid !== undefined) running.push({ name: f.name, pid, kind: 'frontend' });
  }
  for (const n of layout.nodes) {
    const pid = livePid(layout.dir, n.name, 'nats-server');
    if (pid !== undefined) running.push({ name: n.name, pid, kind: 'node' });
  }
  return running;
}

async function stopProcess(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + limits.stopTimeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stop the frontends first (they drain their requests), then the nodes. Data stays unless purged. */
export async function clusterDown(
  dir: string,
  options: { purge?: boolean; log?: (line: string) => void } = {},
): Promise<void> {
  const layout = readLayout(dir);
  const running = runningProcesses(layout);
  for (const kind of ['frontend', 'node'] as const) {
    const batch = running.filter((p) => p.kind === kind);
    await Promise.all(batch.map((p) => stopProcess(p.pid)));
    for (const p of batch) options.log?.(`${p.name}: stopped (pid ${p.pid})`);
  }
  for (const name of [...layout.frontends, ...layout.nodes].map((p) => p.name)) {
    rmSync(pidFile(layout.dir, name), { force: true });
  }
  if (options.purge) rmSync(layout.dir, { recursive: true, force: true });
}

export interface ProcessStatus {
  name: string;
  kind: 'frontend' | 'node';
  port: number;
  pid?: number;
  health?: unknown;
}

export async function clusterStatus(
  dir: string,
): Promise<{ layout: ClusterLayout; processes: ProcessStatus[] }> {
  const layout = readLayout(dir);
  const processes: ProcessStatus[] = [];
  for (const n of layout.nodes) {
    processes.push({
      name: n.name,
      kind: 'node',
      port: n.port,
      pid: livePid(layout.dir, n.name, 'nats-server'),
    });
  }
  for (const f of layout.frontends) {
    const pid = livePid(layout.dir, f.name, 'sluice');
    let health: unknown;
    if (pid !== undefined) {
      try {
        const res = await fetch(`http://127.0.0.1:${f.port}/health`, {
          signal: AbortSignal.timeout(limits.healthTimeoutMs),
        });
        health = await res.json();
      } catch (error) {
        health = { error: String(error) };
      }
    }
    processes.push({ name: f.name, kind: 'frontend', port: f.port, pid, health });
  }
  return { layout, processes };
}

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

const defaultDir = './sluice-cluster';

export function addClusterCommands(program: Command): void {
  const cluster = program
    .command('cluster')
    .description(
      'a local NATS JetStream cluster on loopback and sluice frontends over it (development, tests)',
    );

  cluster
    .command('up')
    .description(
      'start nats-server nodes (JetStream, max_payload 16MB) and N `sluice serve --store nats://...` frontends; ' +
        'flags after -- go to every sluice serve (e.g. -- --throughput unlimited)',
    )
    .argument('[serve-flags...]', 'flags for every sluice serve, after --')
    .option('--dir <dir>', 'folder for configuration, data, logs and pid files', defaultDir)
    .option('--nodes <n>', 'nats-server nodes (1 for a single node)', integer(1, limits.maxNodes), 3)
    .option(
      '--nats-port <port>',
      'client port of the first node (the others follow)',
      integer(1, 65535),
      4222,
    )
    .option(
      '--cluster-port <port>',
      'route port of the first node (the others follow)',
      integer(1, 65535),
      6222,
    )
    .option('--frontends <n>', 'sluice serve frontends', integer(0, limits.maxFrontends), 2)
    .option('--port <port>', 'port of the first frontend (the others follow)', integer(1, 65535), 4567)
    .option('--nats-server <path>', 'the nats-server binary (default: PATH, then /usr/sbin/nats-server)')
    .action(async (serveFlags: string[], opts) => {
      const layout = await clusterUp({
        dir: opts.dir,
        nodes: opts.nodes,
        natsPort: opts.natsPort,
        clusterPort: opts.clusterPort,
        port: opts.port,
        frontends: opts.frontends,
        natsServer: opts.natsServer,
        serveArgs: serveFlags,
        log: (line) => console.error(line),
      });
      console.log(`store: ${layout.storeUrl}`);
      for (const f of layout.frontends) console.log(`${f.name}: http://127.0.0.1:${f.port}`);
      console.log(`logs and pid files in ${layout.dir}; stop with: sluice cluster down --dir ${opts.dir}`);
    });

  cluster
    .command('down')
    .description('stop the frontends, then the nats-server nodes (their data stays unless --purge)')
    .option('--dir <dir>', 'the folder given to cluster up', defaultDir)
    .option('--purge', 'also delete the folder (data, logs)', false)
    .action(async (opts) => {
      await clusterDown(opts.dir, { purge: opts.purge, log: (line) => console.log(line) });
    });

  cluster
    .command('status')
    .description("each process's pid, and each frontend's /health (metadata version and lag)")
    .option('--dir <dir>', 'the folder given to cluster up', defaultDir)
    .option('--json', 'print JSON', false)
    .action(async (opts) => {
      const { layout, processes } = await clusterStatus(opts.dir);
      if (opts.json) {
        console.log(JSON.stringify({ storeUrl: layout.storeUrl, processes }, null, 2));
        return;
      }
      console.log(`store: ${layout.storeUrl}`);
      for (const p of processes) {
        const state = p.pid === undefined ? 'stopped' : `pid ${p.pid}`;
        let extra = '';
        const health = p.health as
          | { status?: string; error?: string; metadata?: { version: number; lag: number | null } }
          | undefined;
        if (health?.error) extra = `  health: ${health.error}`;
        else if (health) {
          extra = `  ${health.status}, metadata version ${health.metadata?.version}, lag ${health.metadata?.lag}`;
        }
        const where = p.kind === 'frontend' ? `http://127.0.0.1:${p.port}` : `nats://127.0.0.1:${p.port}`;
        console.log(`${p.name.padEnd(12)} ${where.padEnd(24)} ${state}${extra}`);
      }
      if (processes.some((p) => p.pid === undefined)) process.exitCode = 3;
    });
}
