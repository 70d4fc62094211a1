/**
 * Scenario: resharding with Debian's AWS CLI v2 (`/usr/bin/aws`): split-shard, merge-shards and
 * update-shard-count, with their invalid inputs, as an operator would run them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Sluice } from '../src/app.js';
import { awsCli } from './awscli-helpers.js';
import { startTestServer } from './helpers.js';

const ACCOUNT = '000000000000';
const stream = `cli-reshard-${process.pid}`;
const MAX = (1n << 128n) - 1n;

let server: Sluice;
let workDir: string;
const { awsJson, awsQuiet, awsError } = awsCli({ port: () => server.port, home: () => workDir });

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'sluice-awscli-reshard-'));
  server = await startTestServer();
});

after(async () => {
  await server.close();
  rmSync(workDir, { recursive: true, force: true });
});

interface Shard {
  ShardId: string;
  ParentShardId?: string;
  AdjacentParentShardId?: string;
  HashKeyRange: { StartingHashKey: string; EndingHashKey: string };
  SequenceNumberRange: { EndingSequenceNumber?: string };
}

const openShards = async () =>
  (
    await awsJson<{ Shards: Shard[] }>([
      'list-shards',
      '--stream-name',
      stream,
      '--shard-filter',
      'Type=AT_LATEST',
    ])
  ).Shards;

describe('AWS CLI resharding scenario', { timeout: 120_000 }, () => {
  it('splits a shard, merges two, and scales uniformly', async () => {
    await awsQuiet(['create-stream', '--stream-name', stream, '--shard-count', '2']);
    const mid = (MAX / 4n).toString();
    await awsQuiet([
      'split-shard',
      '--stream-name',
      stream,
      '--shard-to-split',
      'shardId-000000000000',
      '--new-starting-hash-key',
      mid,
    ]);
    let open = await openShards();
    assert.deepEqual(
      open.map((s) => [s.ShardId, s.ParentShardId]),
      [
        ['shardId-000000000001', undefined],
        ['shardId-000000000002', 'shardId-000000000000'],
        ['shardId-000000000003', 'shardId-000000000000'],
      ],
    );
    await awsQuiet([
      'merge-shards',
      '--stream-name',
      stream,
      '--shard-to-merge',
      'shardId-000000000002',
      '--adjacent-shard-to-merge',
      'shardId-000000000003',
    ]);
    open = await openShards();
    assert.deepEqual(
      open.map((s) => [s.ShardId, s.ParentShardId, s.AdjacentParentShardId]),
      [
        ['shardId-000000000001', undefined, undefined],
        ['shardId-000000000004', 'shardId-000000000002', 'shardId-000000000003'],
      ],
    );
    const scaled = await awsJson([
      'update-shard-count',
      '--stream-name',
      stream,
      '--target-shard-count',
      '4',
      '--scaling-type',
      'UNIFORM_SCALING',
    ]);
    assert.deepEqual(scaled, {
      StreamName: stream,
      CurrentShardCount: 2,
      TargetShardCount: 4,
      StreamARN: `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${stream}`,
    });
    open = await openShards();
    assert.equal(open.length, 4);
    const all = await awsJson<{ Shards: Shard[] }>(['list-shards', '--stream-name', stream]);
    const closed = all.Shards.filter((s) => s.SequenceNumberRange.EndingSequenceNumber !== undefined);
    assert.ok(closed.length >= 4, 'parents stay listed with an EndingSequenceNumber');
  });

  it('refuses what the service refuses, with its messages', async () => {
    await awsError(
      [
        'split-shard',
        '--stream-name',
        stream,
        '--shard-to-split',
        'shardId-000000000000',
        '--new-starting-hash-key',
        '5',
      ],
      'ResourceInUseException',
      'SplitShard',
      `Shard shardId-000000000000 in stream ${stream} under account ${ACCOUNT} has already been merged or split, and thus is not eligible for merging or splitting.`,
    );
    const open = await openShards();
    const [a, , c] = [...open].sort((x, y) =>
      BigInt(x.HashKeyRange.StartingHashKey) < BigInt(y.HashKeyRange.StartingHashKey) ? -1 : 1,
    );
    await awsError(
      [
        'merge-shards',
        '--stream-name',
        stream,
        '--shard-to-merge',
        a?.ShardId ?? '',
        '--adjacent-shard-to-merge',
        c?.ShardId ?? '',
      ],
      'InvalidArgumentException',
      'MergeShards',
      `Shards ${a?.ShardId} and ${c?.ShardId} in stream ${stream} under account ${ACCOUNT} are not an adjacent pair of shards eligible for merging`,
    );
    await awsError(
      [
        'update-shard-count',
        '--stream-name',
        stream,
        '--target-shard-count',
        '9',
        '--scaling-type',
        'UNIFORM_SCALING',
      ],
      'LimitExceededException',
      'UpdateShardCount',
      'UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 4, Target shard count: 9',
    );
    await awsError(
      [
        'split-shard',
        '--stream-name',
        'nope',
        '--shard-to-split',
        'shardId-000000000000',
        '--new-starting-hash-key',
        '5',
      ],
      'ResourceNotFoundException',
      'SplitShard',
      `Stream nope under account ${ACCOUNT} not found.`,
    );
  });
});
