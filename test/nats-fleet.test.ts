/**
 * The 2020 trigger, reversed: frontends are started in steps up to 20 over a 3-node NATS cluster,
 * every frontend serves requests at every step, and each frontend's open TCP connections, file
 * descriptors, OS threads and memory stay flat as the fleet grows, because a frontend talks only
 * to the store (one NATS connection) and never to its peers.
 *
 * Read from /proc (Linux): connections are the TCP sockets among /proc/<pid>/fd matched by inode
 * in /proc/<pid>/net/tcp{,6}; threads and VmRSS from /proc/<pid>/status.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { kinesisClient } from './helpers.js';
import { type NatsServers, startFrontend, startNatsCluster, stopFrontend } from './nats-helpers.js';

interface Usage {
  /** TCP sockets the process holds (listening and connected). */
  tcp: number;
  /** Of those, connections to a NATS server. */
  nats: number;
  /** listening / to NATS / from clients / in other states (closing) */
  kinds: string;
  fds: number;
  threads: number;
  rssMiB: number;
}

function tcpSockets(pid: number): Map<string, { state: string; remotePort: number }> {
  const byInode = new Map<string, { state: string; remotePort: number }>();
  for (const file of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const remote = cols[2] ?? '';
      byInode.set(cols[9] ?? '', {
        state: cols[3] ?? '',
        remotePort: Number.parseInt(remote.split(':')[1] ?? '0', 16),
      });
    }
  }
  return byInode;
}

function usage(pid: number, natsPorts: Set<number>): Usage {
  const fds = readdirSync(`/proc/${pid}/fd`);
  const sockets = tcpSockets(pid);
  let tcp = 0;
  let nats = 0;
  let listening = 0;
  let clients = 0;
  let other = 0;
  for (const fd of fds) {
    let target = '';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    const socket = inode === undefined ? undefined : sockets.get(inode);
    if (!socket) continue;
    tcp++;
    if (socket.state === '0A') listening++;
    else if (socket.state === '01' && natsPorts.has(socket.remotePort)) nats++;
    else if (socket.state === '01') clients++;
    else other++;
  }
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
  return {
    tcp,
    nats,
    kinds: `${listening}/${nats}/${clients}/${other}`,
    fds: fds.length,
    threads: field('Threads'),
    rssMiB: field('VmRSS') / 1024,
  };
}

/** A few calls through one frontend: a write, a read, a metadata read. */
async function serve(client: KinesisClient, tag: string): Promise<void> {
  const put = await client.send(
    new PutRecordsCommand({
      StreamName: 'fleet',
      Records: Array.from({ length: 5 }, (_, i) => ({ PartitionKey: `${tag}-${i}`, Data: Buffer.from(tag) })),
    }),
  );
  assert.equal(put.FailedRecordCount, 0);
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({
      StreamName: 'fleet',
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'LATEST',
    }),
  );
  const got = await client.send(new GetRecordsCommand({ ShardIterator, Limit: 10 }));
  assert.ok(got.NextShardIterator);
  const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'fleet' }));
  assert.equal(summary.StreamDescriptionSummary?.StreamStatus, 'ACTIVE');
}

/**
 * Allowances of the first frontend's counts at 20 frontends against 1 (same work at every step):
 * - NATS connections: none (exactly one, whatever the fleet's size).
 * - TCP sockets and file descriptors: 2, for the test client's own connections, which may be
 *   open or closing at the moment of reading (seen: one in FIN_WAIT2 at one step and none at the
 *   next); they depend on this test's calls, which are the same at every step, not on the fleet.
 * - Threads: 2 (Node's platform and libuv pools are fixed at start; an inspector or a DNS lookup
 *   thread could come and go). Under the 2020 design the first frontend would hold 19 more.
 * - RSS: 64 MiB, a fixed bound on heap growth and garbage between readings for the same work.
 */
const allowance = { nats: 0, tcp: 2, fds: 2, threads: 2, rssMiB: 64 };
const steps = [1, 5, 10, 20];

describe('frontends in steps up to 20 over a 3-node NATS cluster', { timeout: 600_000 }, () => {
  let nats: NatsServers;
  const frontends: Array<{ child: ChildProcess; port: number; client: KinesisClient }> = [];

  before(async () => {
    nats = await startNatsCluster(3);
  });

  after(async () => {
    for (const f of frontends) f.client.destroy();
    await Promise.all(frontends.map((f) => stopFrontend(f.child)));
    await nats?.stop();
  });

  test("each frontend's connections, descriptors, threads and memory stay flat", async () => {
    const natsPorts = new Set(nats.nodes.map((n) => n.port));
    const table: string[] = [];
    const readings = new Map<number, Usage>();
    for (const size of steps) {
      // Start the new frontends a few at a time (the machine has 2 cores).
      while (frontends.length < size) {
        const batch = Math.min(5, size - frontends.length);
        const started = await Promise.all(Array.from({ length: batch }, () => startFrontend(nats.storeUrl)));
        for (const f of started) frontends.push({ ...f, client: kinesisClient(f.port) });
        if (frontends.length === batch && size === steps[0]) {
          await (frontends[0] as { client: KinesisClient }).client.send(
            new CreateStreamCommand({ StreamName: 'fleet', ShardCount: 2 }),
          );
        }
      }
      // Every frontend serves (twice: the second round finds warm connections and pools).
      for (let round = 0; round < 2; round++) {
        for (const [i, f] of frontends.entries()) await serve(f.client, `s${size}-f${i}-r${round}`);
      }
      const all = frontends.map((f) => usage(f.child.pid as number, natsPorts));
      for (const u of all)
        assert.equal(u.nats, 1, 'every frontend holds exactly one connection to the store');
      const first = all[0] as Usage;
      readings.set(size, first);
      const max = (key: Exclude<keyof Usage, 'kinds'>) => Math.max(...all.map((u) => u[key]));
      table.push(
        [
          String(size).padStart(9),
          String(first.nats).padStart(4),
          `${first.tcp} (${first.kinds})`.padStart(13),
          String(first.fds).padStart(3),
          String(first.threads).padStart(7),
          first.rssMiB.toFixed(1).padStart(7),
          `${max('nats')}/${max('tcp')}/${max('fds')}/${max('threads')}/${max('rssMiB').toFixed(1)}`.padStart(
            22,
          ),
        ].join(' | '),
      );
    }
    console.log(
      [
        'first frontend at each step, and the largest of any frontend (nats/tcp/fds/threads/rss MiB):',
        'frontends | nats | tcp (listen/nats/clients/closing) | fds | threads | rss MiB |      max over the fleet',
        ...table,
      ].join('\n'),
    );
    const one = readings.get(1) as Usage;
    const twenty = readings.get(20) as Usage;
    assert.ok(Math.abs(twenty.nats - one.nats) <= allowance.nats, `nats ${one.nats} -> ${twenty.nats}`);
    assert.ok(Math.abs(twenty.tcp - one.tcp) <= allowance.tcp, `tcp ${one.tcp} -> ${twenty.tcp}`);
    assert.ok(Math.abs(twenty.fds - one.fds) <= allowance.fds, `fds ${one.fds} -> ${twenty.fds}`);
    assert.ok(
      Math.abs(twenty.threads - one.threads) <= allowance.threads,
      `threads ${one.threads} -> ${twenty.threads}`,
    );
    assert.ok(twenty.rssMiB - one.rssMiB <= allowance.rssMiB, `rss ${one.rssMiB} -> ${twenty.rssMiB} MiB`);
  });
});
