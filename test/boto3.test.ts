/**
 * Scenario: boto3 against Sluice. test/boto3_scenario.py runs the scenario with the machine's
 * python3 and prints what it observed as JSON; this file starts the server, runs the script
 * with a timeout and asserts on every observation.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Sluice } from '../src/app.js';
import { startTestServer } from './helpers.js';

const ACCOUNT = '000000000000';
/** The script lives next to this test's source (tsc does not copy .py files into dist/). */
const SCRIPT = fileURLToPath(new URL('../../test/boto3_scenario.py', import.meta.url));
const SCRIPT_TIMEOUT_MS = 120_000;

const MAX_HASH = (1n << 128n) - 1n;
/** Hash key ranges of a 3-shard stream: floor(2^128 / 3) per shard, the last one to 2^128-1. */
const THREE_SHARD_RANGES = [
  ['0', '113427455640312821154458202477256070484'],
  ['113427455640312821154458202477256070485', '226854911280625642308916404954512140969'],
  ['226854911280625642308916404954512140970', '340282366920938463463374607431768211455'],
];
const SHARDS = ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002'];

interface ErrorSeen {
  code: string;
  message: string;
  status: number;
  retryAttempts: number;
  exceptionClass: string;
}

interface Put {
  label?: string;
  dataHex: string;
  pk: string;
  shard: string;
  seq: string;
  expectedShard: string;
}

interface ReadRecord {
  seq: string;
  pk: string;
  dataHex: string;
  arrivalAgeSeconds: number;
}

interface Summary {
  boto3: string;
  createKeys: string[];
  firstStatus: string;
  creatingShards: number;
  putWhileCreating: ErrorSeen;
  waitSeconds: number;
  summary: Record<string, unknown> & { creationAgeSeconds: number };
  listStreamsPages: string[][];
  listStreamsHasMore: boolean[];
  listStreamsAll: string[];
  listStreamsSummaries: Array<{ name: string; arn: string; status: string; mode: string }>;
  listStreamsAfter: string[];
  listShardsOnePage: { pages: number; ids: string[]; ranges: string[][]; hasNextToken: boolean };
  listShardsPageSize1: { error: { code: string; message: string } | null };
  listShardsManualPages: string[][];
  listShardsResumed: string[];
  listShardsAfterId: string[];
  nextTokenWithStreamName: ErrorSeen;
  describeStreamPages: string[][];
  describeStreamHasMore: boolean[];
  describeStream: Record<string, unknown> & { startingSequenceNumbers: string[] };
  puts: Put[];
  putRecords: { FailedRecordCount: number; records: Array<Put & { errorCode: string | null }> };
  putRecordsByArn: { FailedRecordCount: number; shard: string; seq: string };
  reads: Record<string, ReadRecord[]>;
  atSequence: string[];
  afterSequence: string[];
  limit1: { count: number; seq: string; nextDiffers: boolean };
  reusedIterator: string[];
  latestBefore: number;
  latestAfter: Array<{ seq: string; dataHex: string }>;
  latestPutSeq: string;
  atOldTimestamp: number;
  errors: Record<string, ErrorSeen>;
  modeledClassIsResourceNotFound: boolean;
  afterDelete: { status: string; shards: number };
  putWhileDeleting: ErrorSeen;
  deleteWaitSeconds: number;
  describeDeleted: ErrorSeen;
  getRecordsDeleted: ErrorSeen;
  streamsAtEnd: string[];
}

let server: Sluice;
let result: Summary;
const runId = `${process.pid}-${Date.now().toString(36)}`;
const stream = `boto3-${runId}-main`;
const other = `boto3-${runId}-other`;
const missing = `boto3-${runId}-missing`;
const arnOf = (name: string) => `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${name}`;
const notFound = (name: string) => `Stream ${name} under account ${ACCOUNT} not found.`;

function pythonEnv(): NodeJS.ProcessEnv {
  // Keep PATH/HOME/pyenv settings so `python3` resolves as on the machine; drop any AWS or proxy
  // settings that could redirect or sign differently.
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(AWS_|BOTO_)/i.test(key) || /_proxy$/i.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    NO_PROXY: '127.0.0.1,localhost',
    PYTHONIOENCODING: 'utf-8',
    PYTHONDONTWRITEBYTECODE: '1',
  };
}

function runScenario(endpoint: string): Promise<Summary> {
  return new Promise((resolve, reject) => {
    execFile(
      'python3',
      [SCRIPT, endpoint, runId],
      { env: pythonEnv(), timeout: SCRIPT_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const how = error.killed
            ? `killed after ${SCRIPT_TIMEOUT_MS} ms`
            : `exit code ${String(error.code)}`;
          reject(new Error(`boto3 scenario failed (${how}):\n${stderr}\n${stdout}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as Summary);
        } catch {
          reject(new Error(`boto3 scenario printed no JSON:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

/** The shard of the 3-shard stream whose range holds a partition key's MD5 hash key. */
function shardOfHash(hash: bigint): string {
  const index = THREE_SHARD_RANGES.findIndex(
    ([start, end]) => hash >= BigInt(start ?? '') && hash <= BigInt(end ?? ''),
  );
  assert.ok(index >= 0, `hash ${hash} in no range`);
  return SHARDS[index] as string;
}

const md5Key = (partitionKey: string) =>
  BigInt(`0x${createHash('md5').update(partitionKey, 'utf8').digest('hex')}`);

const hex = (text: string) => Buffer.from(text, 'utf8').toString('hex');
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('hex');

/** What the script wrote, in order, with the shard each must land on (computed here, not in Python). */
const expectedPuts = [
  { label: 'text', dataHex: hex('héllo wörld'), pk: 'user-1', shard: shardOfHash(md5Key('user-1')) },
  { label: 'binary', dataHex: '00fffe8081c3280a0d', pk: 'user-1', shard: shardOfHash(md5Key('user-1')) },
  { label: 'empty', dataHex: '', pk: 'user-2', shard: shardOfHash(md5Key('user-2')) },
  { label: 'all-bytes', dataHex: allBytes, pk: 'user-3', shard: shardOfHash(md5Key('user-3')) },
  { label: 'explicit-max', dataHex: hex('last shard'), pk: 'ignored-key', shard: shardOfHash(MAX_HASH) },
  { label: 'explicit-zero', dataHex: hex('first shard'), pk: 'ignored-key', shard: shardOfHash(0n) },
];
const expectedBatch = [
  { dataHex: 'deadbeef', pk: 'batch-a', shard: shardOfHash(md5Key('batch-a')) },
  { dataHex: '', pk: 'batch-b', shard: shardOfHash(md5Key('batch-b')) },
  { dataHex: hex('ünïcödé'), pk: 'batch-c', shard: shardOfHash(1n << 127n) },
  { dataHex: '80'.repeat(1000), pk: 'batch-d', shard: shardOfHash(1n) },
];

function assertError(seen: ErrorSeen | undefined, code: string, message: string): void {
  assert.ok(seen, `no error recorded for ${code}`);
  assert.deepEqual(seen, { code, message, status: 400, retryAttempts: 0, exceptionClass: code });
}

before(async () => {
  assert.ok(existsSync(SCRIPT), `missing ${SCRIPT}`);
  server = await startTestServer({ engine: { createStreamMs: 1500, deleteStreamMs: 1500 } });
  result = await runScenario(`http://127.0.0.1:${server.port}`);
});

after(() => server.close());

describe('boto3 scenario', () => {
  it('creates a stream that is CREATING, then ACTIVE through a 1 s waiter', () => {
    assert.match(result.boto3, /^1\./);
    assert.deepEqual(result.createKeys, [], 'CreateStream has an empty response');
    assert.equal(result.firstStatus, 'CREATING');
    assert.equal(result.creatingShards, 0, 'no shards are listed while CREATING');
    assertError(result.putWhileCreating, 'ResourceNotFoundException', notFound(stream));
    // CREATING lasts 1.5 s: the 1 s waiter needs at least one more poll, and far less than 10 s.
    assert.ok(result.waitSeconds >= 0.5 && result.waitSeconds < 8, `waited ${result.waitSeconds} s`);
    const { creationAgeSeconds, ...summary } = result.summary;
    assert.deepEqual(summary, {
      StreamName: stream,
      StreamARN: arnOf(stream),
      StreamStatus: 'ACTIVE',
      OpenShardCount: 3,
      RetentionPeriodHours: 24,
      EncryptionType: 'NONE',
      StreamMode: 'PROVISIONED',
      ConsumerCount: 0,
      EnhancedMonitoring: [{ ShardLevelMetrics: [] }],
    });
    assert.ok(creationAgeSeconds >= 0 && creationAgeSeconds < 60, `created ${creationAgeSeconds} s ago`);
  });

  it('pages list_streams with the paginator', () => {
    assert.deepEqual(result.listStreamsPages, [[stream], [other]]);
    assert.deepEqual(result.listStreamsHasMore, [true, false]);
    assert.deepEqual(result.listStreamsAll, [stream, other]);
    assert.deepEqual(result.listStreamsSummaries, [
      { name: stream, arn: arnOf(stream), status: 'ACTIVE', mode: 'PROVISIONED' },
      { name: other, arn: arnOf(other), status: 'ACTIVE', mode: 'PROVISIONED' },
    ]);
    assert.deepEqual(result.listStreamsAfter, [other]);
  });

  it('lists shards: one page, the paginator quirk, and NextToken paging', () => {
    assert.deepEqual(result.listShardsOnePage, {
      pages: 1,
      ids: SHARDS,
      ranges: THREE_SHARD_RANGES,
      hasNextToken: false,
    });
    // botocore's ListShards paginator re-sends StreamName with NextToken; the service refuses
    // that (boto/botocore#2009), so paging below the shard count fails on page two.
    assert.deepEqual(result.listShardsPageSize1, {
      error: {
        code: 'InvalidArgumentException',
        message: 'NextToken and StreamName cannot be provided together.',
      },
    });
    assert.deepEqual(result.listShardsManualPages, [[SHARDS[0]], [SHARDS[1]], [SHARDS[2]]]);
    assert.deepEqual(result.listShardsResumed, [SHARDS[1], SHARDS[2]]);
    assert.deepEqual(result.listShardsAfterId, [SHARDS[1], SHARDS[2]]);
    assertError(
      result.nextTokenWithStreamName,
      'InvalidArgumentException',
      'NextToken and StreamName cannot be provided together.',
    );
  });

  it('describes the stream, paged by the describe_stream paginator', () => {
    assert.deepEqual(result.describeStreamPages, [[SHARDS[0]], [SHARDS[1]], [SHARDS[2]]]);
    assert.deepEqual(result.describeStreamHasMore, [true, true, false]);
    const { startingSequenceNumbers, ...description } = result.describeStream;
    assert.deepEqual(description, {
      StreamName: stream,
      StreamARN: arnOf(stream),
      StreamStatus: 'ACTIVE',
      HasMoreShards: false,
      shards: SHARDS,
      StreamMode: 'PROVISIONED',
      RetentionPeriodHours: 24,
      EncryptionType: 'NONE',
    });
    assert.equal(startingSequenceNumbers.length, 3);
    for (const seq of startingSequenceNumbers) assert.match(seq, /^[1-9]\d{20,127}$/);
    assert.equal(new Set(startingSequenceNumbers).size, 3);
  });

  it('routes put_record and put_records by MD5 of the partition key or by ExplicitHashKey', () => {
    assert.deepEqual(
      result.puts.map(({ label, dataHex, pk, shard }) => ({ label, dataHex, pk, shard })),
      expectedPuts,
    );
    for (const put of result.puts) {
      assert.equal(put.expectedShard, put.shard, `python routing agrees for ${put.label}`);
      assert.match(put.seq, /^[1-9]\d{20,127}$/);
    }
    // Same partition key: same shard, increasing sequence numbers.
    const [text, binary] = result.puts;
    assert.ok(text && binary && BigInt(binary.seq) > BigInt(text.seq));

    assert.equal(result.putRecords.FailedRecordCount, 0);
    assert.deepEqual(
      result.putRecords.records.map(({ dataHex, pk, shard, errorCode }) => ({
        dataHex,
        pk,
        shard,
        errorCode,
      })),
      expectedBatch.map((e) => ({ ...e, errorCode: null })),
    );
    for (const r of result.putRecords.records) assert.match(r.seq, /^[1-9]\d{20,127}$/);
    assert.equal(result.putRecordsByArn.FailedRecordCount, 0);
    assert.equal(result.putRecordsByArn.shard, SHARDS[0]);
  });

  it('reads every record back byte for byte (non-UTF-8 and empty data included)', () => {
    const writes = [
      ...result.puts.map(({ seq, pk, dataHex, shard }) => ({ seq, pk, dataHex, shard })),
      ...result.putRecords.records.map(({ seq, pk, dataHex, shard }) => ({ seq, pk, dataHex, shard })),
      {
        seq: result.putRecordsByArn.seq,
        pk: 'arn-batch',
        dataHex: '0102',
        shard: result.putRecordsByArn.shard,
      },
    ];
    assert.deepEqual(Object.keys(result.reads).sort(), SHARDS);
    for (const shard of SHARDS) {
      const read = result.reads[shard] ?? [];
      const expected = writes
        .filter((w) => w.shard === shard)
        .map(({ seq, pk, dataHex }) => ({ seq, pk, dataHex }));
      assert.ok(expected.length > 0, `the scenario wrote to ${shard}`);
      assert.deepEqual(
        read.map(({ seq, pk, dataHex }) => ({ seq, pk, dataHex })),
        expected,
        `records of ${shard}`,
      );
      for (const [i, r] of read.entries()) {
        assert.ok(
          r.arrivalAgeSeconds > -5 && r.arrivalAgeSeconds < 60,
          `arrival ${r.arrivalAgeSeconds} s ago`,
        );
        if (i > 0) assert.ok(BigInt(r.seq) > BigInt((read[i - 1] as ReadRecord).seq));
      }
    }
    const hexes = Object.values(result.reads).flatMap((records) => records.map((r) => r.dataHex));
    assert.ok(hexes.includes('00fffe8081c3280a0d'));
    assert.ok(hexes.includes(allBytes));
    assert.equal(hexes.filter((h) => h === '').length, 2);
  });

  it('positions iterators at, after, latest and at a timestamp', () => {
    const shard0 = (result.reads[SHARDS[0] as string] ?? []).map((r) => r.seq);
    assert.ok(shard0.length >= 3);
    assert.deepEqual(result.atSequence, shard0.slice(1));
    assert.deepEqual(result.afterSequence, shard0.slice(2));
    assert.deepEqual(result.limit1, { count: 1, seq: shard0[1], nextDiffers: true });
    assert.deepEqual(result.reusedIterator, result.atSequence, 'an iterator can be used again');
    assert.equal(result.latestBefore, 0);
    assert.deepEqual(result.latestAfter, [{ seq: result.latestPutSeq, dataHex: `ff${hex('after latest')}` }]);
    assert.equal(result.atOldTimestamp, shard0.length + 1);
  });

  it('raises ClientError with the service code and message, no retries', () => {
    const e = result.errors;
    assertError(e.describeMissing, 'ResourceNotFoundException', notFound(missing));
    assertError(e.summaryMissingArn, 'ResourceNotFoundException', notFound(missing));
    assertError(
      e.createInvalidName,
      'ValidationException',
      "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    );
    assertError(
      e.createDuplicate,
      'ResourceInUseException',
      `Stream ${stream} under account ${ACCOUNT} already exists.`,
    );
    assertError(e.getRecordsGarbage, 'InvalidArgumentException', 'Invalid ShardIterator.');
    assertError(e.putRecordMissing, 'ResourceNotFoundException', notFound(missing));
    assertError(e.putRecordsMissing, 'ResourceNotFoundException', notFound(missing));
    assertError(
      e.hashKeyTooLarge,
      'InvalidArgumentException',
      `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${MAX_HASH + 1n}`,
    );
    assertError(
      e.shardMissing,
      'ResourceNotFoundException',
      `Shard shardId-000000000005 in stream ${stream} under account ${ACCOUNT} does not exist`,
    );
    const help =
      'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber.';
    assertError(
      e.atSequenceNoNumber,
      'InvalidArgumentException',
      `${help} Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.`,
    );
    assertError(
      e.trimHorizonWithNumber,
      'InvalidArgumentException',
      `${help} Request specified TRIM_HORIZON and also a StartingSequenceNumber.`,
    );
    assertError(e.deleteMissing, 'ResourceNotFoundException', notFound(missing));
    assert.equal(Object.keys(e).length, 12);
    assert.equal(result.modeledClassIsResourceNotFound, true);
  });

  it('deletes: DELETING, then gone for the stream_not_exists waiter and for old iterators', () => {
    assert.deepEqual(result.afterDelete, { status: 'DELETING', shards: 0 });
    assertError(result.putWhileDeleting, 'ResourceNotFoundException', notFound(stream));
    assert.ok(
      result.deleteWaitSeconds >= 0.5 && result.deleteWaitSeconds < 8,
      `waited ${result.deleteWaitSeconds} s`,
    );
    assertError(result.describeDeleted, 'ResourceNotFoundException', notFound(stream));
    assertError(
      result.getRecordsDeleted,
      'ResourceNotFoundException',
      `Shard shardId-000000000000 in stream ${stream} under account ${ACCOUNT} does not exist`,
    );
    assert.deepEqual(result.streamsAtEnd, []);
  });
});
