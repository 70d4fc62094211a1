/**
 * Scenario: Debian's AWS CLI v2 (`/usr/bin/aws`) against Sluice, the way a user drives it from a
 * shell. Each command is a child process with a timeout; the assertions are on exit codes, the
 * JSON it prints and the error line it writes to stderr.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Sluice } from '../src/app.js';
import { awsCli } from './awscli-helpers.js';
import { sleep, startTestServer } from './helpers.js';

const ACCOUNT = '000000000000';
/** Long enough that a few CLI calls (about 0.5 s each) fit inside CREATING and DELETING. */
const TRANSITION_MS = 5_000;

const MAX_HASH = (1n << 128n) - 1n;
const HALF = 1n << 127n;

interface Shard {
  ShardId: string;
  HashKeyRange: { StartingHashKey: string; EndingHashKey: string };
  SequenceNumberRange: { StartingSequenceNumber: string; EndingSequenceNumber?: string };
}

interface CliRecord {
  SequenceNumber: string;
  ApproximateArrivalTimestamp: string;
  Data: string;
  PartitionKey: string;
}

/** A record this test wrote, with the bytes it meant to write. */
interface Written {
  shard: string;
  seq: string;
  pk: string;
  data: Buffer;
}

let server: Sluice;
let workDir: string;
let port: number;
const runId = `${process.pid}-${Date.now().toString(36)}`;
const stream = `cli-${runId}-main`;
const other = `cli-${runId}-other`;
const missing = `cli-${runId}-missing`;
const arnOf = (name: string) => `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${name}`;
const arn = arnOf(stream);
const written: Written[] = [];

const { aws, awsJson, awsError, version: cliVersion } = awsCli({ port: () => port, home: () => workDir });

const notFound = (name: string) => `Stream ${name} under account ${ACCOUNT} not found.`;

/** The shard of a two-shard stream that a partition key's MD5 hash key falls in. */
function shardOfKey(partitionKey: string): string {
  const hash = BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);
  return hash < HALF ? 'shardId-000000000000' : 'shardId-000000000001';
}

function assertSequence(seq: unknown): asserts seq is string {
  assert.equal(typeof seq, 'string');
  assert.match(seq as string, /^[1-9]\d{20,127}$/);
}

function assertRecent(iso: string): void {
  const ms = Date.parse(iso);
  assert.ok(Number.isFinite(ms), `not a timestamp: ${iso}`);
  assert.ok(Math.abs(Date.now() - ms) < 120_000, `timestamp ${iso} is not recent`);
}

const expectedShards = [
  { ShardId: 'shardId-000000000000', start: '0', end: (HALF - 1n).toString() },
  { ShardId: 'shardId-000000000001', start: HALF.toString(), end: MAX_HASH.toString() },
];

function assertTwoShards(shards: Shard[]): void {
  assert.deepEqual(
    shards.map((s) => ({
      ShardId: s.ShardId,
      start: s.HashKeyRange.StartingHashKey,
      end: s.HashKeyRange.EndingHashKey,
    })),
    expectedShards,
  );
  for (const s of shards) {
    assertSequence(s.SequenceNumberRange.StartingSequenceNumber);
    assert.equal(s.SequenceNumberRange.EndingSequenceNumber, undefined);
  }
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'sluice-awscli-'));
  server = await startTestServer({
    engine: { createStreamMs: TRANSITION_MS, deleteStreamMs: TRANSITION_MS },
  });
  port = server.port;
});

after(async () => {
  await server.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe('AWS CLI v2 scenario', { timeout: 240_000 }, () => {
  it('is the Debian AWS CLI v2', async () => {
    const version = await cliVersion();
    assert.match(version, /^aws-cli\/2\./);
  });

  it('creates streams, shows CREATING, then ACTIVE when polled with describe-stream-summary', async () => {
    const created = await Promise.all([
      aws(['create-stream', '--stream-name', stream, '--shard-count', '2']),
      aws(['create-stream', '--stream-name', other, '--shard-count', '1']),
    ]);
    for (const result of created) {
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, '', 'CreateStream has an empty response');
    }

    const first = await awsJson<{ StreamDescriptionSummary: Record<string, unknown> }>([
      'describe-stream-summary',
      '--stream-name',
      stream,
    ]);
    assert.equal(first.StreamDescriptionSummary.StreamStatus, 'CREATING');
    assert.equal(first.StreamDescriptionSummary.StreamName, stream);

    // While CREATING the description lists no shards, and writes see no stream.
    const creating = await awsJson<{ StreamDescription: { StreamStatus: string; Shards: Shard[] } }>([
      'describe-stream',
      '--stream-name',
      stream,
      '--no-paginate',
    ]);
    assert.equal(creating.StreamDescription.StreamStatus, 'CREATING');
    assert.deepEqual(creating.StreamDescription.Shards, []);
    await awsError(
      [
        'put-record',
        '--stream-name',
        stream,
        '--partition-key',
        'p',
        '--data',
        'x',
        '--cli-binary-format',
        'raw-in-base64-out',
      ],
      'ResourceNotFoundException',
      'PutRecord',
      notFound(stream),
    );

    // `aws kinesis wait stream-exists` polls every 10 s; poll the summary instead.
    const deadline = Date.now() + 30_000;
    let summary: Record<string, unknown> = first.StreamDescriptionSummary;
    let polls = 1;
    while (summary.StreamStatus !== 'ACTIVE') {
      assert.ok(Date.now() < deadline, `stream still ${String(summary.StreamStatus)} after 30 s`);
      await sleep(250);
      summary = (
        await awsJson<{ StreamDescriptionSummary: Record<string, unknown> }>([
          'describe-stream-summary',
          '--stream-arn',
          arn,
        ])
      ).StreamDescriptionSummary;
      polls++;
    }
    assert.ok(polls >= 2, 'CREATING was observed before ACTIVE');
    assert.equal(summary.StreamName, stream);
    assert.equal(summary.StreamARN, arn);
    assert.equal(summary.OpenShardCount, 2);
    assert.equal(summary.RetentionPeriodHours, 24);
    assert.equal(summary.EncryptionType, 'NONE');
    assert.deepEqual(summary.StreamModeDetails, { StreamMode: 'PROVISIONED' });
    assert.deepEqual(summary.EnhancedMonitoring, [{ ShardLevelMetrics: [] }]);
    assertRecent(summary.StreamCreationTimestamp as string);

    // Now that it is ACTIVE, the CLI waiter's first poll succeeds at once.
    const waited = await aws(['wait', 'stream-exists', '--stream-name', other]);
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout, '');
  });

  it('lists streams, with and without the CLI paginating', async () => {
    const all = await awsJson<{ StreamNames: string[]; StreamSummaries: Array<Record<string, unknown>> }>([
      'list-streams',
    ]);
    assert.deepEqual(all.StreamNames, [stream, other]);
    assert.deepEqual(
      all.StreamSummaries.map((s) => [s.StreamName, s.StreamARN, s.StreamStatus, s.StreamModeDetails]),
      [
        [stream, arn, 'ACTIVE', { StreamMode: 'PROVISIONED' }],
        [other, arnOf(other), 'ACTIVE', { StreamMode: 'PROVISIONED' }],
      ],
    );

    // --page-size sends Limit 1 and follows NextToken to the end.
    const paged = await awsJson<{ StreamNames: string[]; NextToken?: string }>([
      'list-streams',
      '--page-size',
      '1',
    ]);
    assert.deepEqual(paged.StreamNames, [stream, other]);
    assert.equal(paged.NextToken, undefined);

    // --limit turns the CLI's pagination off: one page, the service's own token.
    const firstPage = await awsJson<{ StreamNames: string[]; HasMoreStreams: boolean; NextToken?: string }>([
      'list-streams',
      '--limit',
      '1',
    ]);
    assert.deepEqual(firstPage.StreamNames, [stream]);
    assert.equal(firstPage.HasMoreStreams, true);
    assert.equal(typeof firstPage.NextToken, 'string');
    const secondPage = await awsJson<{ StreamNames: string[]; HasMoreStreams: boolean; NextToken?: string }>([
      'list-streams',
      '--next-token',
      firstPage.NextToken as string,
    ]);
    assert.deepEqual(secondPage.StreamNames, [other]);
    assert.equal(secondPage.HasMoreStreams, false);
    assert.equal(secondPage.NextToken, undefined);

    const afterName = await awsJson<{ StreamNames: string[] }>([
      'list-streams',
      '--exclusive-start-stream-name',
      stream,
      '--no-paginate',
    ]);
    assert.deepEqual(afterName.StreamNames, [other]);
  });

  it('describes the stream by name and by ARN, whole and page by page', async () => {
    type Description = { StreamDescription: Record<string, unknown> & { Shards: Shard[] } };
    const full = await awsJson<Description>(['describe-stream', '--stream-name', stream, '--no-paginate']);
    const d = full.StreamDescription;
    assert.equal(d.StreamName, stream);
    assert.equal(d.StreamARN, arn);
    assert.equal(d.StreamStatus, 'ACTIVE');
    assert.equal(d.HasMoreShards, false);
    assert.equal(d.RetentionPeriodHours, 24);
    assert.equal(d.EncryptionType, 'NONE');
    assert.deepEqual(d.StreamModeDetails, { StreamMode: 'PROVISIONED' });
    assert.deepEqual(d.EnhancedMonitoring, [{ ShardLevelMetrics: [] }]);
    assertRecent(d.StreamCreationTimestamp as string);
    assertTwoShards(d.Shards);

    const byArn = await awsJson<Description>(['describe-stream', '--stream-arn', arn, '--no-paginate']);
    assert.deepEqual(byArn, full);

    // The CLI's default paginates DescribeStream over ExclusiveStartShardId; --page-size 1 makes two calls.
    const paged = await awsJson<Description>(['describe-stream', '--stream-arn', arn, '--page-size', '1']);
    assert.equal(paged.StreamDescription.StreamStatus, 'ACTIVE');
    assertTwoShards(paged.StreamDescription.Shards);

    const limited = await awsJson<Description>(['describe-stream', '--stream-name', stream, '--limit', '1']);
    assert.deepEqual(
      limited.StreamDescription.Shards.map((s) => s.ShardId),
      ['shardId-000000000000'],
    );
    assert.equal(limited.StreamDescription.HasMoreShards, true);
    const rest = await awsJson<Description>([
      'describe-stream',
      '--stream-name',
      stream,
      '--exclusive-start-shard-id',
      'shardId-000000000000',
    ]);
    assert.deepEqual(
      rest.StreamDescription.Shards.map((s) => s.ShardId),
      ['shardId-000000000001'],
    );
    assert.equal(rest.StreamDescription.HasMoreShards, false);
  });

  it('lists shards, including paging by hand with --max-results and --next-token', async () => {
    const all = await awsJson<{ Shards: Shard[]; NextToken?: string }>([
      'list-shards',
      '--stream-name',
      stream,
    ]);
    assertTwoShards(all.Shards);
    assert.equal(all.NextToken, undefined);
    const byArn = await awsJson<{ Shards: Shard[] }>(['list-shards', '--stream-arn', arn]);
    assert.deepEqual(byArn, all);

    // --max-results turns the CLI's pagination off and shows the service's NextToken.
    const first = await awsJson<{ Shards: Shard[]; NextToken?: string }>([
      'list-shards',
      '--stream-name',
      stream,
      '--max-results',
      '1',
    ]);
    assert.deepEqual(
      first.Shards.map((s) => s.ShardId),
      ['shardId-000000000000'],
    );
    assert.equal(typeof first.NextToken, 'string');
    // The NextToken names the stream by itself; the stream name must not be repeated.
    const second = await awsJson<{ Shards: Shard[]; NextToken?: string }>([
      'list-shards',
      '--next-token',
      first.NextToken as string,
    ]);
    assert.deepEqual(
      second.Shards.map((s) => s.ShardId),
      ['shardId-000000000001'],
    );
    assert.equal(second.NextToken, undefined);
    await awsError(
      ['list-shards', '--stream-name', stream, '--next-token', first.NextToken as string],
      'InvalidArgumentException',
      'ListShards',
      'NextToken and StreamName cannot be provided together.',
    );

    // The CLI's own paginator re-sends --stream-name with NextToken, which the service refuses
    // (boto/botocore#2009), so --page-size smaller than the shard count fails on page two.
    await awsError(
      ['list-shards', '--stream-name', stream, '--page-size', '1'],
      'InvalidArgumentException',
      'ListShards',
      'NextToken and StreamName cannot be provided together.',
    );

    // --max-items truncates on the client and hands out a CLI token to resume from.
    const truncated = await awsJson<{ Shards: Shard[]; NextToken?: string }>([
      'list-shards',
      '--stream-name',
      stream,
      '--max-items',
      '1',
    ]);
    assert.deepEqual(
      truncated.Shards.map((s) => s.ShardId),
      ['shardId-000000000000'],
    );
    assert.equal(typeof truncated.NextToken, 'string');
    const resumed = await awsJson<{ Shards: Shard[] }>([
      'list-shards',
      '--stream-name',
      stream,
      '--max-items',
      '1',
      '--starting-token',
      truncated.NextToken as string,
    ]);
    assert.deepEqual(
      resumed.Shards.map((s) => s.ShardId),
      ['shardId-000000000001'],
    );
  });

  it('puts single records: text, binary from a file, base64, empty, and by explicit hash key', async () => {
    const binaryFile = join(workDir, 'binary.dat');
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x81, 0xc3, 0x28, 0x0a, 0x0d, 0x22, 0x5c]);
    writeFileSync(binaryFile, binary);
    const raw = ['--cli-binary-format', 'raw-in-base64-out'];
    const cases: Array<{ args: string[]; pk: string; data: Buffer; shard: string }> = [
      {
        args: ['--stream-name', stream, '--data', 'héllo wörld', ...raw],
        pk: 'user-1',
        data: Buffer.from('héllo wörld', 'utf8'),
        shard: shardOfKey('user-1'),
      },
      {
        args: ['--stream-arn', arn, '--data', `fileb://${binaryFile}`],
        pk: 'user-1',
        data: binary,
        shard: shardOfKey('user-1'),
      },
      {
        // Without raw-in-base64-out, CLI v2 takes --data as base64.
        args: ['--stream-name', stream, '--data', Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64')],
        pk: 'user-2',
        data: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
        shard: shardOfKey('user-2'),
      },
      {
        args: ['--stream-name', stream, '--data', '', ...raw],
        pk: 'user-3',
        data: Buffer.alloc(0),
        shard: shardOfKey('user-3'),
      },
      {
        args: ['--stream-arn', arn, '--data', 'top', '--explicit-hash-key', MAX_HASH.toString(), ...raw],
        pk: 'same-key',
        data: Buffer.from('top'),
        shard: 'shardId-000000000001',
      },
      {
        args: ['--stream-name', stream, '--data', 'bottom', '--explicit-hash-key', '0', ...raw],
        pk: 'same-key',
        data: Buffer.from('bottom'),
        shard: 'shardId-000000000000',
      },
      {
        args: [
          '--stream-name',
          stream,
          '--data',
          'edge-low',
          '--explicit-hash-key',
          (HALF - 1n).toString(),
          ...raw,
        ],
        pk: 'same-key',
        data: Buffer.from('edge-low'),
        shard: 'shardId-000000000000',
      },
      {
        args: [
          '--stream-name',
          stream,
          '--data',
          'edge-high',
          '--explicit-hash-key',
          HALF.toString(),
          ...raw,
        ],
        pk: 'same-key',
        data: Buffer.from('edge-high'),
        shard: 'shardId-000000000001',
      },
    ];
    // The two partition keys of the suite land on different shards, so both shards are exercised.
    assert.notEqual(shardOfKey('user-1'), shardOfKey('user-3'));
    for (const c of cases) {
      const result = await awsJson<Record<string, unknown>>([
        'put-record',
        '--partition-key',
        c.pk,
        ...c.args,
      ]);
      assert.deepEqual(Object.keys(result).sort(), ['SequenceNumber', 'ShardId']);
      assert.equal(result.ShardId, c.shard, `put-record ${c.args.join(' ')}`);
      assertSequence(result.SequenceNumber);
      written.push({ shard: c.shard, seq: result.SequenceNumber, pk: c.pk, data: c.data });
    }
    // Same partition key, same shard, later sequence number.
    const [a, b] = written;
    assert.ok(a && b && a.shard === b.shard && BigInt(b.seq) > BigInt(a.seq));
  });

  it('puts batches with put-records, raw and base64 --records', async () => {
    const raw = await awsJson<{ FailedRecordCount: number; Records: Array<Record<string, unknown>> }>([
      'put-records',
      '--stream-name',
      stream,
      '--cli-binary-format',
      'raw-in-base64-out',
      '--records',
      JSON.stringify([
        { Data: 'batch one', PartitionKey: 'user-1' },
        { Data: 'batch two', PartitionKey: 'user-3' },
        { Data: 'batch three', PartitionKey: 'x', ExplicitHashKey: MAX_HASH.toString() },
      ]),
    ]);
    assert.equal(raw.FailedRecordCount, 0);
    const rawExpected = [
      { pk: 'user-1', data: Buffer.from('batch one'), shard: shardOfKey('user-1') },
      { pk: 'user-3', data: Buffer.from('batch two'), shard: shardOfKey('user-3') },
      { pk: 'x', data: Buffer.from('batch three'), shard: 'shardId-000000000001' },
    ];
    assert.equal(raw.Records.length, 3);
    raw.Records.forEach((r, i) => {
      const e = rawExpected[i] as (typeof rawExpected)[number];
      assert.deepEqual(Object.keys(r).sort(), ['SequenceNumber', 'ShardId']);
      assert.equal(r.ShardId, e.shard);
      assertSequence(r.SequenceNumber);
      written.push({ ...e, seq: r.SequenceNumber });
    });

    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x80, 0xc0, 0xaf]);
    const b64 = await awsJson<{ FailedRecordCount: number; Records: Array<Record<string, unknown>> }>([
      'put-records',
      '--stream-arn',
      arn,
      '--records',
      JSON.stringify([
        { Data: bytes.toString('base64'), PartitionKey: 'bin', ExplicitHashKey: '1' },
        { Data: '', PartitionKey: 'empty', ExplicitHashKey: HALF.toString() },
      ]),
    ]);
    assert.equal(b64.FailedRecordCount, 0);
    assert.deepEqual(
      b64.Records.map((r) => r.ShardId),
      ['shardId-000000000000', 'shardId-000000000001'],
    );
    const [binRecord, emptyRecord] = b64.Records;
    assertSequence(binRecord?.SequenceNumber);
    assertSequence(emptyRecord?.SequenceNumber);
    written.push({ shard: 'shardId-000000000000', seq: binRecord.SequenceNumber, pk: 'bin', data: bytes });
    written.push({
      shard: 'shardId-000000000001',
      seq: emptyRecord.SequenceNumber,
      pk: 'empty',
      data: Buffer.alloc(0),
    });
  });

  it('reads every record back byte for byte with get-shard-iterator and get-records', async () => {
    for (const [index, shardId] of ['shardId-000000000000', 'shardId-000000000001'].entries()) {
      const address = index === 0 ? ['--stream-name', stream] : ['--stream-arn', arn];
      const { ShardIterator } = await awsJson<{ ShardIterator: string }>([
        'get-shard-iterator',
        ...address,
        '--shard-id',
        shardId,
        '--shard-iterator-type',
        'TRIM_HORIZON',
      ]);
      assert.equal(typeof ShardIterator, 'string');
      const page = await awsJson<{
        Records: CliRecord[];
        NextShardIterator: string;
        MillisBehindLatest: number;
      }>(['get-records', '--shard-iterator', ShardIterator, ...(index === 1 ? ['--stream-arn', arn] : [])]);
      const expected = written.filter((w) => w.shard === shardId);
      assert.ok(expected.length >= 3, `the scenario wrote at least 3 records to ${shardId}`);
      assert.deepEqual(
        page.Records.map((r) => ({ seq: r.SequenceNumber, pk: r.PartitionKey, data: r.Data })),
        expected.map((w) => ({ seq: w.seq, pk: w.pk, data: w.data.toString('base64') })),
      );
      for (const [i, r] of page.Records.entries()) {
        assert.deepEqual(Buffer.from(r.Data, 'base64'), (expected[i] as Written).data);
        assertRecent(r.ApproximateArrivalTimestamp);
        if (i > 0)
          assert.ok(BigInt(r.SequenceNumber) > BigInt((page.Records[i - 1] as CliRecord).SequenceNumber));
      }
      assert.equal(page.MillisBehindLatest, 0);
      assert.notEqual(page.NextShardIterator, ShardIterator);
      const tail = await awsJson<{ Records: CliRecord[]; NextShardIterator: string }>([
        'get-records',
        '--shard-iterator',
        page.NextShardIterator,
      ]);
      assert.deepEqual(tail.Records, []);
      assert.equal(typeof tail.NextShardIterator, 'string');
    }

    // AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER start at (after) the given record.
    const shard0 = written.filter((w) => w.shard === 'shardId-000000000000');
    const pivot = shard0[1] as Written;
    const at = await awsJson<{ ShardIterator: string }>([
      'get-shard-iterator',
      '--stream-arn',
      arn,
      '--shard-id',
      'shardId-000000000000',
      '--shard-iterator-type',
      'AT_SEQUENCE_NUMBER',
      '--starting-sequence-number',
      pivot.seq,
    ]);
    const fromPivot = await awsJson<{ Records: CliRecord[] }>([
      'get-records',
      '--shard-iterator',
      at.ShardIterator,
    ]);
    assert.deepEqual(
      fromPivot.Records.map((r) => r.SequenceNumber),
      shard0.slice(1).map((w) => w.seq),
    );
    const limited = await awsJson<{ Records: CliRecord[] }>([
      'get-records',
      '--shard-iterator',
      at.ShardIterator,
      '--limit',
      '1',
    ]);
    assert.deepEqual(
      limited.Records.map((r) => [r.SequenceNumber, Buffer.from(r.Data, 'base64')]),
      [[pivot.seq, pivot.data]],
    );
    const afterIt = await awsJson<{ ShardIterator: string }>([
      'get-shard-iterator',
      '--stream-name',
      stream,
      '--shard-id',
      'shardId-000000000000',
      '--shard-iterator-type',
      'AFTER_SEQUENCE_NUMBER',
      '--starting-sequence-number',
      pivot.seq,
    ]);
    const afterPivot = await awsJson<{ Records: CliRecord[] }>([
      'get-records',
      '--shard-iterator',
      afterIt.ShardIterator,
    ]);
    assert.deepEqual(
      afterPivot.Records.map((r) => r.SequenceNumber),
      shard0.slice(2).map((w) => w.seq),
    );
  });

  it('reports service errors the way the CLI prints them', async () => {
    const shard0 = written.find((w) => w.shard === 'shardId-000000000000') as Written;
    await Promise.all([
      awsError(
        ['describe-stream', '--stream-name', missing],
        'ResourceNotFoundException',
        'DescribeStream',
        notFound(missing),
      ),
      awsError(
        ['describe-stream-summary', '--stream-arn', arnOf(missing)],
        'ResourceNotFoundException',
        'DescribeStreamSummary',
        notFound(missing),
      ),
      awsError(
        ['create-stream', '--stream-name', 'bad name!', '--shard-count', '1'],
        'ValidationException',
        'CreateStream',
        "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      ),
      awsError(
        ['create-stream', '--stream-name', stream, '--shard-count', '1'],
        'ResourceInUseException',
        'CreateStream',
        `Stream ${stream} under account ${ACCOUNT} already exists.`,
      ),
      awsError(
        ['get-records', '--shard-iterator', 'garbage-iterator'],
        'InvalidArgumentException',
        'GetRecords',
        'Invalid ShardIterator.',
      ),
      awsError(
        [
          'put-record',
          '--stream-name',
          missing,
          '--partition-key',
          'p',
          '--data',
          'x',
          '--cli-binary-format',
          'raw-in-base64-out',
        ],
        'ResourceNotFoundException',
        'PutRecord',
        notFound(missing),
      ),
      awsError(
        ['put-records', '--stream-arn', arnOf(missing), '--records', '[{"Data":"eA==","PartitionKey":"p"}]'],
        'ResourceNotFoundException',
        'PutRecords',
        notFound(missing),
      ),
      awsError(
        [
          'put-record',
          '--stream-name',
          stream,
          '--partition-key',
          'p',
          '--data',
          'x',
          '--cli-binary-format',
          'raw-in-base64-out',
          '--explicit-hash-key',
          (MAX_HASH + 1n).toString(),
        ],
        'InvalidArgumentException',
        'PutRecord',
        `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${MAX_HASH + 1n}`,
      ),
      awsError(
        [
          'get-shard-iterator',
          '--stream-name',
          stream,
          '--shard-id',
          'shardId-000000000005',
          '--shard-iterator-type',
          'LATEST',
        ],
        'ResourceNotFoundException',
        'GetShardIterator',
        `Shard shardId-000000000005 in stream ${stream} under account ${ACCOUNT} does not exist`,
      ),
      awsError(
        [
          'get-shard-iterator',
          '--stream-arn',
          arn,
          '--shard-id',
          'shardId-000000000000',
          '--shard-iterator-type',
          'AT_SEQUENCE_NUMBER',
        ],
        'InvalidArgumentException',
        'GetShardIterator',
        'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.',
      ),
      awsError(
        [
          'get-shard-iterator',
          '--stream-name',
          stream,
          '--shard-id',
          'shardId-000000000001',
          '--shard-iterator-type',
          'AT_SEQUENCE_NUMBER',
          '--starting-sequence-number',
          shard0.seq,
        ],
        'InvalidArgumentException',
        'GetShardIterator',
        'Invalid StartingSequenceNumber. It encodes shardId-000000000000, while it was used in a call to a shard with shardId-000000000001',
      ),
      awsError(
        ['delete-stream', '--stream-name', missing],
        'ResourceNotFoundException',
        'DeleteStream',
        notFound(missing),
      ),
    ]);
  });

  it('deletes streams: DELETING, then not found', async () => {
    const { ShardIterator } = await awsJson<{ ShardIterator: string }>([
      'get-shard-iterator',
      '--stream-name',
      stream,
      '--shard-id',
      'shardId-000000000000',
      '--shard-iterator-type',
      'TRIM_HORIZON',
    ]);
    const deleted = await aws(['delete-stream', '--stream-arn', arn]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, '', 'DeleteStream has an empty response');

    const deleting = await awsJson<{
      StreamDescription: { StreamStatus: string; Shards: Shard[]; HasMoreShards: boolean };
    }>(['describe-stream', '--stream-name', stream, '--no-paginate']);
    assert.equal(deleting.StreamDescription.StreamStatus, 'DELETING');
    assert.deepEqual(deleting.StreamDescription.Shards, []);
    assert.equal(deleting.StreamDescription.HasMoreShards, false);
    await awsError(
      [
        'put-record',
        '--stream-name',
        stream,
        '--partition-key',
        'p',
        '--data',
        'x',
        '--cli-binary-format',
        'raw-in-base64-out',
      ],
      'ResourceNotFoundException',
      'PutRecord',
      notFound(stream),
    );

    const deadline = Date.now() + 30_000;
    for (;;) {
      const result = await aws(['describe-stream-summary', '--stream-name', stream]);
      if (result.code !== 0) break;
      assert.equal(JSON.parse(result.stdout).StreamDescriptionSummary.StreamStatus, 'DELETING');
      assert.ok(Date.now() < deadline, 'stream still DELETING after 30 s');
      await sleep(250);
    }
    await awsError(
      ['describe-stream', '--stream-arn', arn],
      'ResourceNotFoundException',
      'DescribeStream',
      notFound(stream),
    );
    const waited = await aws(['wait', 'stream-not-exists', '--stream-name', stream]);
    assert.equal(waited.code, 0, waited.stderr);
    await awsError(
      ['get-records', '--shard-iterator', ShardIterator],
      'ResourceNotFoundException',
      'GetRecords',
      `Shard shardId-000000000000 in stream ${stream} under account ${ACCOUNT} does not exist`,
    );

    const listed = await awsJson<{ StreamNames: string[] }>(['list-streams']);
    assert.deepEqual(listed.StreamNames, [other]);
    const deletedOther = await aws(['delete-stream', '--stream-name', other, '--enforce-consumer-deletion']);
    assert.equal(deletedOther.code, 0, deletedOther.stderr);
    const otherNow = await awsJson<{ StreamDescriptionSummary: { StreamStatus: string } }>([
      'describe-stream-summary',
      '--stream-name',
      other,
    ]);
    assert.equal(otherNow.StreamDescriptionSummary.StreamStatus, 'DELETING');
  });
});
