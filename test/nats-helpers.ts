/**
 * nats-server child processes for tests: a single JetStream node or a 3-node cluster on free
 * loopback ports, each with its own temporary store folder. Every process started here is killed
 * when the test process exits, even if a test failed before its `after`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import type { NatsStore } from '../src/store/nats.js';
import type { StoredRecord, StreamDoc } from '../src/store/store.js';
import { sleep } from './helpers.js';

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function binary(): string {
  if (process.env.NATS_SERVER) return process.env.NATS_SERVER;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/** Distinct free loopback ports (all held open at once while choosing). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export interface NatsNode {
  name: string;
  port: number;
  clusterPort?: number;
  url: string;
  dir: string;
  child: ChildProcess | undefined;
  /** Start the node again on the same ports and folder (after `kill`). */
  restart(): Promise<void>;
  /** SIGKILL the node (its folder is kept). */
  kill(): Promise<void>;
}

function config(
  node: { name: string; port: number; dir: string },
  cluster?: { port: number; routes: number[] },
  tags: string[] = [],
) {
  const lines = [
    `server_name: ${node.name}`,
    `listen: 127.0.0.1:${node.port}`,
    // Records up to 10 MiB plus headers (the default is 1 MiB).
    'max_payload: 16MB',
    `jetstream { store_dir: "${join(node.dir, 'js')}" }`,
  ];
  // Placement tags (e.g. `cell:a`: the record streams of cell a go to these servers).
  if (tags.length > 0) lines.push(`server_tags: [${tags.map((t) => JSON.stringify(t)).join(', ')}]`);
  if (cluster) {
    lines.push(
      'cluster {',
      '  name: sluice-test',
      `  listen: 127.0.0.1:${cluster.port}`,
      `  routes: [${cluster.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`,
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

function spawnNode(node: NatsNode): Promise<void> {
  const child = spawn(binary(), ['-c', join(node.dir, 'nats.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  node.child = child;
  running.add(child);
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (log.length < 100_000) log += chunk.toString();
    // NATS_LOG=prefix keeps each server's log in prefix-<node>.log, for debugging.
    if (process.env.NATS_LOG) appendFileSync(`${process.env.NATS_LOG}-${node.name}.log`, chunk);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`nats-server ${node.name} did not start: ${log}`)),
      15_000,
    );
    const check = setInterval(() => {
      if (log.includes('Server is ready')) {
        clearTimeout(timer);
        clearInterval(check);
        resolve();
      }
    }, 20);
    child.once('exit', (code) => {
      running.delete(child);
      clearTimeout(timer);
      clearInterval(check);
      reject(new Error(`nats-server ${node.name} exited with ${code}: ${log}`));
    });
  });
}

function makeNode(name: string, port: number, dir: string, clusterPort?: number): NatsNode {
  const node: NatsNode = {
    name,
    port,
    clusterPort,
    url: `nats://127.0.0.1:${port}`,
    dir,
    child: undefined,
    restart: () => spawnNode(node),
    kill: () => stopChild(node.child, 'SIGKILL'),
  };
  return node;
}

function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      running.delete(child);
      resolve();
    });
    child.kill(signal);
  });
}

/** Wait until JetStream answers API requests (a cluster has elected its meta leader). */
async function waitForJetStream(ports: number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers: ports.map((p) => `127.0.0.1:${p}`) });
  try {
    for (;;) {
      try {
        const reply = await nc.request('$JS.API.INFO', '', { timeout: 1_000 });
        const body = JSON.parse(reply.string()) as { error?: unknown };
        if (!body.error) return;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error('JetStream did not become available');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await nc.close();
  }
}

export interface NatsServers {
  nodes: NatsNode[];
  /** `nats://host:port,...` for `sluice serve --store` */
  storeUrl: string;
  servers: string[];
  stop(): Promise<void>;
}

/** One nats-server with JetStream on a free loopback port and a temporary folder. */
export async function startNats(): Promise<NatsServers> {
  return startNatsCluster(1);
}

/** `size` nats-servers with JetStream; with more than one, a cluster routed on loopback.
 * `tags[i]` are node i's `server_tags`. */
export async function startNatsCluster(size = 3, tags: string[][] = []): Promise<NatsServers> {
  const ports = await freePorts(size * 2);
  const nodes: NatsNode[] = [];
  for (let i = 0; i < size; i++) {
    const dir = mkdtempSync(join(tmpdir(), `sluice-nats-${i}-`));
    const node = makeNode(`n${i}`, ports[i] as number, dir, size > 1 ? ports[size + i] : undefined);
    const cluster =
      size > 1 ? { port: ports[size + i] as number, routes: ports.slice(size, size * 2) } : undefined;
    writeFileSync(join(dir, 'nats.conf'), config(node, cluster, tags[i]));
    nodes.push(node);
  }
  const stop = async () => {
    await Promise.all(nodes.map((n) => stopChild(n.child, 'SIGTERM')));
    for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((n) => spawnNode(n)));
    await waitForJetStream(nodes.map((n) => n.port));
  } catch (error) {
    await stop();
    throw error;
  }
  const servers = nodes.map((n) => `127.0.0.1:${n.port}`);
  return { nodes, servers, storeUrl: `nats://${servers.join(',')}`, stop };
}

let nextKey = 1_000 + Math.floor(Math.random() * 1_000_000);

/** A stream document (for store tests) with `shards` shards and a fresh key. */
export function makeDoc(name: string, shards = 2): StreamDoc {
  return {
    name,
    key: nextKey++,
    streamId: `${'a'.repeat(20)}-abc`,
    createdMs: Date.now(),
    status: 'ACTIVE',
    mode: 'PROVISIONED',
    retentionHours: 24,
    shards: Array.from({ length: shards }, (_, index) => ({
      index,
      startingHashKey: String(index),
      endingHashKey: String(index),
      openedMs: Date.now(),
    })),
    tags: {},
    encryptionType: 'NONE',
    shardLevelMetrics: [],
    version: 0,
  };
}

const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

/** Start `sluice serve` over the NATS store on a free port; resolves once it listens. */
export function startFrontend(
  storeUrl: string,
  extra: string[] = [],
): Promise<{ child: ChildProcess; port: number }> {
  return startServe(['--store', storeUrl, ...extra]);
}

/**
 * Start `sluice serve` on a free port with `args` (and set-up that does not wait, throughput
 * limits off); resolves once it listens, rejects if it exits first or is not listening in 30 s.
 * The process is killed when the tests end.
 */
export function startServe(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      bin,
      'serve',
      '--port',
      '0',
      '--create-stream-ms',
      '0',
      '--delete-stream-ms',
      '0',
      '--update-stream-ms',
      '0',
      '--throughput',
      'unlimited',
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sluice serve did not start within 30 s: ${out}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sluice serve exited with ${code} before listening: ${out}`));
    });
  });
}

export function stopFrontend(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Read a shard from position 0 up to its tip, in as many reads as it takes (a read may stop
 * short, e.g. served by a replica still catching up: the next one goes on from there). */
export async function readToTip(store: NatsStore, streamKey: number, shard = 0): Promise<StoredRecord[]> {
  const all = { minArrivalMs: 0, maxCount: 10_000, maxBytes: 64 * 1024 * 1024 };
  const records: StoredRecord[] = [];
  for (let attempt = 0; attempt < 2_000; attempt++) {
    const from = records.length > 0 ? (records[records.length - 1] as StoredRecord).position + 1 : 0;
    const out = await store.read({ streamKey, shard, fromPosition: from, ...all });
    records.push(...out.records);
    const last = records[records.length - 1];
    if ((last ? last.position + 1 : 0) >= out.tip.nextPosition) return records;
    if (out.records.length === 0) await sleep(50);
  }
  throw new Error('shard not read to its tip');
}
