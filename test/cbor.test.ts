import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { Decoder, type Options } from 'cbor-x';
import { operations } from '../src/api/operations.js';
import { decodeInput } from '../src/api/validation.js';
import type { Sluice } from '../src/app.js';
import {
  CborSyntaxError,
  cborCodec,
  cborContentType,
  encodeCbor,
  maxCborDepth,
  maxCborItems,
  parseCbor,
} from '../src/protocol/cbor.js';
import { codecFor } from '../src/protocol/codec.js';
import { cborHead } from './fuzz-helpers.js';
import { rawCall, sleep, startTestServer } from './helpers.js';

// ---------------------------------------------------------------------------------------------------------
// A Jackson-style writer: the bytes the AWS SDK for Java v2 sends (see test/fixtures/cbor/README.md).
// It is independent of src/protocol/cbor.ts so that the server is tested against the client's bytes.

/** A timestamp as the Java SDK writes it: tag 1 and the epoch milliseconds as an integer. */
class Millis {
  constructor(readonly ms: number) {}
}
/** Bytes inserted as they are (hostile inputs). */
class Raw {
  constructor(readonly bytes: Buffer) {}
}

/** CBORGenerator._writeString: heads by character count, chunks of 3,996 characters beyond. */
function javaString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const chars = text.length;
  // Up to 3,996 characters one definite string: 0x60+n up to 23 bytes, then 1- or 2-byte lengths.
  if (chars <= 3996) return Buffer.concat([cborHead(3, bytes.length), bytes]);
  const parts: Buffer[] = [Buffer.from([0x7f])];
  let rest = text;
  while (rest.length > 3996) {
    let amount = 3996;
    const last = rest.charCodeAt(amount - 1);
    if (last >= 0xd800 && last <= 0xdbff) amount--; // never split a surrogate pair
    const chunk = Buffer.from(rest.slice(0, amount), 'utf8');
    parts.push(Buffer.from([0x79, chunk.length >> 8, chunk.length & 0xff]), chunk);
    rest = rest.slice(amount);
  }
  if (rest.length > 0) parts.push(javaString(rest));
  parts.push(Buffer.from([0xff]));
  return Buffer.concat(parts);
}

function javaInteger(value: number | bigint): Buffer {
  const n = BigInt(value);
  if (n >= 0n) {
    if (n < 1n << 64n) return cborHead(0, n);
    const hex = n.toString(16);
    return Buffer.concat([
      Buffer.from([0xc2]),
      cborHead(2, Math.ceil(hex.length / 2)),
      Buffer.from(hex.padStart(Math.ceil(hex.length / 2) * 2, '0'), 'hex'),
    ]);
  }
  const m = -1n - n;
  if (m < 1n << 64n) return cborHead(1, m);
  const hex = m.toString(16);
  return Buffer.concat([
    Buffer.from([0xc3]),
    cborHead(2, Math.ceil(hex.length / 2)),
    Buffer.from(hex.padStart(Math.ceil(hex.length / 2) * 2, '0'), 'hex'),
  ]);
}

function java(value: unknown): Buffer {
  if (value instanceof Raw) return value.bytes;
  if (value instanceof Millis) return Buffer.concat([Buffer.from([0xc1]), javaInteger(value.ms)]);
  if (value === null) return Buffer.from([0xf6]);
  if (typeof value === 'boolean') return Buffer.from([value ? 0xf5 : 0xf4]);
  if (typeof value === 'string') return javaString(value);
  if (typeof value === 'bigint') return javaInteger(value);
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return javaInteger(value);
    const out = Buffer.alloc(9);
    out[0] = 0xfb;
    out.writeDoubleBE(value, 1);
    return out;
  }
  if (Buffer.isBuffer(value)) return Buffer.concat([cborHead(2, value.length), value]);
  if (Array.isArray(value))
    return Buffer.concat([Buffer.from([0x9f]), ...value.map(java), Buffer.from([0xff])]);
  if (typeof value === 'object') {
    const parts: Buffer[] = [Buffer.from([0xbf])];
    for (const [key, member] of Object.entries(value as Record<string, unknown>)) {
      if (member !== undefined) parts.push(javaString(key), java(member));
    }
    parts.push(Buffer.from([0xff]));
    return Buffer.concat(parts);
  }
  throw new Error(`cannot write ${typeof value}`);
}

/**
 * A standard decoder: cbor-x with its defaults, except that 64-bit integers become numbers (its tag 1
 * reader multiplies the content by 1000, which fails on the bigint it otherwise makes of them).
 */
const standard = new Decoder({ useRecords: false, mapsAsObjects: true, int64AsNumber: true } as Options);
const standardDecode = (bytes: Buffer): unknown => standard.decode(bytes);

const fixtureDir = new URL('../../test/fixtures/cbor/', import.meta.url);

/** A golden request body; `{{Name}}` placeholders are filled with Jackson-written strings. */
function fixture(name: string, values: Record<string, string> = {}): Buffer {
  const text = readFileSync(new URL(`${name}.hex`, fixtureDir), 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .join('')
    .replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
      const value = values[key];
      if (value === undefined) throw new Error(`fixture ${name} needs ${key}`);
      return javaString(value).toString('hex');
    })
    .replace(/\s+/g, '');
  assert.match(text, /^([0-9a-f]{2})+$/, name);
  return Buffer.from(text, 'hex');
}

// ---------------------------------------------------------------------------------------------------------
// A reader that keeps what the Java SDK's Jackson parser sees: byte strings, tags, integers versus floats.

class CborTag {
  constructor(
    readonly tag: number,
    readonly value: unknown,
  ) {}
}
class CborFloat {
  constructor(readonly value: number) {}
}
const BREAK = Symbol('break');

/** `integerKeys`: accept integer map keys as their decimal text (requests may use them; responses do not). */
function readCbor(bytes: Buffer, integerKeys = false): unknown {
  let pos = 0;
  const uint = (ai: number): bigint => {
    if (ai < 24) return BigInt(ai);
    const size = 1 << (ai - 24);
    let n = 0n;
    for (let i = 0; i < size; i++) n = (n << 8n) | BigInt(bytes[pos++] as number);
    return n;
  };
  const int = (n: bigint): number | bigint => (n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);
  const item = (): unknown => {
    if (pos >= bytes.length) throw new Error('truncated');
    const initial = bytes[pos++] as number;
    const major = initial >> 5;
    const ai = initial & 31;
    if (initial === 0xff) return BREAK;
    switch (major) {
      case 0:
        return int(uint(ai));
      case 1: {
        const n = -1n - uint(ai);
        return n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n;
      }
      case 2:
      case 3: {
        let data: Buffer;
        if (ai === 31) {
          const chunks: Buffer[] = [];
          for (let chunk = item(); chunk !== BREAK; chunk = item()) {
            chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
          }
          data = Buffer.concat(chunks);
        } else {
          const length = Number(uint(ai));
          data = bytes.subarray(pos, pos + length);
          pos += length;
        }
        return major === 2 ? Buffer.from(data) : data.toString('utf8');
      }
      case 4: {
        const out: unknown[] = [];
        if (ai === 31) for (let v = item(); v !== BREAK; v = item()) out.push(v);
        else for (let n = Number(uint(ai)); n > 0; n--) out.push(item());
        return out;
      }
      case 5: {
        const out: Record<string, unknown> = {};
        const entry = (key: unknown) => {
          if (integerKeys && (typeof key === 'number' || typeof key === 'bigint')) key = String(key);
          assert.equal(typeof key, 'string', 'map keys are text strings');
          Object.defineProperty(out, key as string, {
            value: item(),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        };
        if (ai === 31) for (let k = item(); k !== BREAK; k = item()) entry(k);
        else for (let n = Number(uint(ai)); n > 0; n--) entry(item());
        return out;
      }
      case 6:
        return new CborTag(Number(uint(ai)), item());
      default:
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22) return null;
        if (ai === 23) return undefined;
        if (ai === 25) {
          const half = bytes.readUInt16BE(pos);
          pos += 2;
          const exponent = (half >> 10) & 0x1f;
          const fraction = half & 0x3ff;
          const magnitude =
            exponent === 0
              ? fraction * 2 ** -24
              : exponent === 31
                ? fraction === 0
                  ? Number.POSITIVE_INFINITY
                  : Number.NaN
                : (fraction + 1024) * 2 ** (exponent - 25);
          return new CborFloat(half & 0x8000 ? -magnitude : magnitude);
        }
        if (ai === 26) {
          pos += 4;
          return new CborFloat(bytes.readFloatBE(pos - 4));
        }
        if (ai === 27) {
          pos += 8;
          return new CborFloat(bytes.readDoubleBE(pos - 8));
        }
        throw new Error(`simple value ${ai}`);
    }
  };
  const value = item();
  assert.equal(pos, bytes.length, 'one item, nothing after it');
  return value;
}

/** A timestamp as the Java SDK reads it: `Long.parseLong` of the number's text, so an integer. */
function javaInstant(node: unknown): Date {
  assert.ok(node instanceof CborTag, 'timestamps carry tag 1');
  assert.equal(node.tag, 1);
  assert.ok(
    typeof node.value === 'number' && Number.isInteger(node.value),
    'epoch milliseconds as an integer',
  );
  return new Date(node.value);
}

/** Every timestamp member is tag 1 + integer milliseconds, no other tag is used and no number is a float. */
function checkWireTypes(node: unknown, key = ''): void {
  if (node instanceof CborTag) {
    javaInstant(node); // the only tag in responses, on timestamps (StartedAt too)
    return;
  }
  assert.ok(!key.endsWith('Timestamp') || node === null, `${key} is not a timestamp`);
  assert.ok(!(node instanceof CborFloat), `unexpected float at ${key}`);
  assert.ok(typeof node !== 'bigint', `integer beyond 2^53 at ${key}`);
  if (Array.isArray(node)) for (const element of node) checkWireTypes(element, key);
  else if (node !== null && typeof node === 'object' && !Buffer.isBuffer(node)) {
    for (const [member, value] of Object.entries(node)) checkWireTypes(value, member);
  }
}

// ---------------------------------------------------------------------------------------------------------
// HTTP/1.1 requests as the Java SDK sends them (it uses HTTP/2 only for SubscribeToShard).

interface CborResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body as the Java SDK's parser sees it. */
  tree: unknown;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function post(
  port: number,
  operation: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<CborResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        agent,
        headers: {
          'Content-Type': cborContentType,
          'X-Amz-Target': `Kinesis_20131202.${operation}`,
          'X-Amz-Date': '20260101T000000Z',
          Authorization:
            'AWS4-HMAC-SHA256 Credential=AKIDSLUICETEST/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target, Signature=00',
          'User-Agent': 'aws-sdk-java/2.31.0 md/io#sync md/http#Apache ua/2.1 api/Kinesis#2.31.0',
          'amz-sdk-invocation-id': randomUUID(),
          'amz-sdk-request': 'attempt=1; max=4',
          'Content-Length': String(body.length),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const data = Buffer.concat(chunks);
          try {
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: data,
              tree:
                data.length > 0 && res.headers['content-type'] === cborContentType
                  ? readCbor(data)
                  : undefined,
            });
          } catch (error) {
            reject(error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

type Tree = Record<string, unknown>;

/** A successful call with a Java-style body; returns the decoded output. */
async function ok(port: number, operation: string, input: unknown): Promise<Tree> {
  const res = await post(port, operation, input instanceof Buffer ? input : java(input));
  assert.equal(res.status, 200, `${operation}: ${res.status} ${JSON.stringify(res.tree)}`);
  assert.equal(res.headers['content-type'], cborContentType);
  checkWireTypes(res.tree);
  standardDecode(res.body); // a standard decoder reads it too
  return res.tree as Tree;
}

/** The error a call answers, with its body as a tree. */
async function failure(port: number, operation: string, body: Buffer) {
  const res = await post(port, operation, body);
  assert.equal(res.headers['content-type'], cborContentType);
  const tree = res.tree as Tree;
  assert.equal(tree.__type, res.headers['x-amzn-errortype']);
  return { status: res.status, tree, body: res.body };
}

async function waitActive(port: number, StreamName: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const out = await ok(port, 'DescribeStreamSummary', { StreamName });
    if ((out.StreamDescriptionSummary as Tree).StreamStatus === 'ACTIVE') return;
    await sleep(10);
  }
  throw new Error(`${StreamName} never became ACTIVE`);
}

function errorBody(type: string, key: string, message?: string): Buffer {
  return Buffer.concat([
    Buffer.from([0xbf]),
    javaString('__type'),
    javaString(type),
    ...(message ? [javaString(key), javaString(message)] : []),
    Buffer.from([0xff]),
  ]);
}

const epochMs = 1700000000000; // the golden files' timestamp

// ---------------------------------------------------------------------------------------------------------

describe('CBOR 1.1 protocol (Java SDK v2 / KCL / KPL)', () => {
  let server: Sluice;
  let port: number;
  before(async () => {
    server = await startTestServer();
    port = server.port;
  });
  after(async () => {
    agent.destroy();
    await server.close();
  });

  test('the Jackson-style writer reproduces the golden bytes', () => {
    const cases: [string, unknown][] = [
      ['create-stream', { StreamName: 'golden', ShardCount: 1, Tags: { team: 'blue' } }],
      ['put-record', { StreamName: 'golden', Data: Buffer.from('00ff80c328', 'hex'), PartitionKey: 'pk' }],
      [
        'put-records',
        {
          Records: [
            { Data: Buffer.from('fe00', 'hex'), PartitionKey: 'a' },
            { Data: Buffer.alloc(0), ExplicitHashKey: '0', PartitionKey: 'b' },
          ],
          StreamName: 'golden',
        },
      ],
      [
        'get-shard-iterator-at-timestamp',
        {
          StreamName: 'golden',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'AT_TIMESTAMP',
          Timestamp: new Millis(epochMs),
        },
      ],
      [
        'list-shards-at-timestamp',
        { StreamName: 'golden', ShardFilter: { Type: 'AT_TIMESTAMP', Timestamp: new Millis(epochMs) } },
      ],
    ];
    for (const [name, value] of cases)
      assert.equal(java(value).toString('hex'), fixture(name).toString('hex'), name);
    const iterator = 'A'.repeat(200);
    assert.deepEqual(
      java({ ShardIterator: iterator, Limit: 10 }),
      fixture('get-records', { ShardIterator: iterator }),
    );
  });

  test('golden requests decode to the values the Java SDK meant', () => {
    const decoded = (operation: string, name: string) => {
      const result = decodeInput(operation, cborCodec.parse(fixture(name)), 'cbor');
      assert.ok(result.ok, JSON.stringify(result));
      return result.input;
    };
    assert.deepEqual(
      decoded('GetShardIterator', 'get-shard-iterator-at-timestamp').Timestamp,
      new Date(epochMs),
    );
    assert.deepEqual(decoded('ListShards', 'list-shards-at-timestamp').ShardFilter, {
      Type: 'AT_TIMESTAMP',
      Timestamp: new Date(epochMs),
    });
    const put = decoded('PutRecords', 'put-records');
    assert.deepEqual(put.Records, [
      { Data: Buffer.from('fe00', 'hex'), PartitionKey: 'a' },
      { Data: Buffer.alloc(0), ExplicitHashKey: '0', PartitionKey: 'b' },
    ]);
    // Tag 1 with seconds (RFC 8949, what a generic CBOR encoder writes) is read as seconds.
    const seconds = java({
      ShardId: '0',
      ShardIteratorType: 'AT_TIMESTAMP',
      Timestamp: new Millis(epochMs / 1000),
    });
    const result = decodeInput('GetShardIterator', parseCbor(seconds), 'cbor');
    assert.ok(result.ok);
    assert.deepEqual(result.input.Timestamp, new Date(epochMs));
    // A float in tag 1 (seconds with a fraction) too.
    const fraction = Buffer.concat([
      java({ ShardId: '0', ShardIteratorType: 'AT_TIMESTAMP' }).subarray(0, -1),
      javaString('Timestamp'),
      Buffer.from([0xc1]),
      java(1700000000.25),
      Buffer.from([0xff]),
    ]);
    const withFraction = decodeInput('GetShardIterator', parseCbor(fraction), 'cbor');
    assert.ok(withFraction.ok);
    assert.deepEqual(withFraction.input.Timestamp, new Date(epochMs + 250));
  });

  test('golden requests over HTTP/1.1: CreateStream, PutRecord, PutRecords, GetShardIterator, GetRecords, ListShards', async () => {
    const created = await post(port, 'CreateStream', fixture('create-stream'));
    assert.equal(created.status, 200);
    assert.equal(created.headers['content-type'], cborContentType);
    assert.deepEqual(created.tree, {});
    await waitActive(port, 'golden');

    const put = await ok(port, 'PutRecord', fixture('put-record'));
    assert.equal(put.ShardId, 'shardId-000000000000');
    assert.match(put.SequenceNumber as string, /^\d{56}$/);

    const puts = await ok(port, 'PutRecords', fixture('put-records'));
    assert.equal(puts.FailedRecordCount, 0);
    assert.equal((puts.Records as Tree[]).length, 2);

    const iterator = await ok(port, 'GetShardIterator', fixture('get-shard-iterator-at-timestamp'));
    assert.equal(typeof iterator.ShardIterator, 'string');

    const before = Date.now();
    const got = await ok(
      port,
      'GetRecords',
      fixture('get-records', { ShardIterator: iterator.ShardIterator as string }),
    );
    const records = got.Records as Tree[];
    assert.deepEqual(
      records.map((r) => [r.PartitionKey, r.Data]),
      [
        ['pk', Buffer.from('00ff80c328', 'hex')],
        ['a', Buffer.from('fe00', 'hex')],
        ['b', Buffer.alloc(0)],
      ],
    );
    for (const record of records) {
      assert.ok(Buffer.isBuffer(record.Data), 'Data is a CBOR byte string');
      const arrival = javaInstant(record.ApproximateArrivalTimestamp).getTime();
      assert.ok(arrival <= before && arrival > before - 60_000, `arrival ${arrival} near ${before}`);
    }
    assert.equal(typeof got.MillisBehindLatest, 'number');
    assert.equal(typeof got.NextShardIterator, 'string');
    // The raw bytes: the arrival time is c1 1b and eight bytes, exactly what SdkCborGenerator writes.
    const arrival = (records[0] as Tree).ApproximateArrivalTimestamp as CborTag;
    const expected = Buffer.alloc(10);
    expected[0] = 0xc1;
    expected[1] = 0x1b;
    expected.writeBigUInt64BE(BigInt(arrival.value as number), 2);
    const raw = await post(port, 'GetRecords', java({ ShardIterator: iterator.ShardIterator }));
    assert.ok(raw.body.includes(expected));
    // A standard (RFC 8949) reader sees the same structure; it takes tag 1 as seconds, so its Date is
    // 1000 times later: that is the AWS convention, which the Java SDK expects.
    const standard = standardDecode(raw.body) as {
      Records: { Data: Uint8Array; ApproximateArrivalTimestamp: Date }[];
    };
    assert.ok(standard.Records[0]?.Data instanceof Uint8Array);
    assert.equal(
      standard.Records[0]?.ApproximateArrivalTimestamp.getTime(),
      (arrival.value as number) * 1000,
    );

    const shards = await ok(port, 'ListShards', fixture('list-shards-at-timestamp'));
    assert.deepEqual(
      (shards.Shards as Tree[]).map((s) => s.ShardId),
      ['shardId-000000000000'],
    );
  });

  test('AT_TIMESTAMP in epoch milliseconds selects records by arrival time', async () => {
    const StreamName = 'timestamps';
    await ok(port, 'CreateStream', { StreamName, ShardCount: 1 });
    await waitActive(port, StreamName);
    await ok(port, 'PutRecord', { StreamName, Data: Buffer.from('early'), PartitionKey: 'k' });
    await sleep(30);
    const between = Date.now();
    await sleep(30);
    await ok(port, 'PutRecord', { StreamName, Data: Buffer.from('late'), PartitionKey: 'k' });
    const { ShardIterator } = await ok(port, 'GetShardIterator', {
      StreamName,
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'AT_TIMESTAMP',
      Timestamp: new Millis(between),
    });
    const got = await ok(port, 'GetRecords', { ShardIterator });
    assert.deepEqual(
      (got.Records as Tree[]).map((r) => (r.Data as Buffer).toString()),
      ['late'],
    );
    // Read as seconds, the same number would be in the future: the service's error proves it is not.
    const future = await failure(
      port,
      'GetShardIterator',
      java({
        StreamName,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'AT_TIMESTAMP',
        Timestamp: new Millis(Date.now() + 60_000),
      }),
    );
    assert.equal(future.tree.__type, 'InvalidArgumentException');
    // ListShards' StreamCreationTimestamp answer and DescribeStreamSummary's creation time agree.
    const summary = await ok(port, 'DescribeStreamSummary', { StreamName });
    const created = javaInstant((summary.StreamDescriptionSummary as Tree).StreamCreationTimestamp);
    assert.ok(Math.abs(created.getTime() - Date.now()) < 60_000);
  });

  test('records put through JSON read back byte-identical through CBOR, and the other way', async () => {
    const StreamName = 'mixed';
    await ok(port, 'CreateStream', { StreamName, ShardCount: 1 });
    await waitActive(port, StreamName);
    const payloads = [
      Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3, 0x28, 0xed, 0xa0, 0x80]), // not UTF-8
      Buffer.alloc(0),
      randomBytes(2000),
      Buffer.from('héllo wörld ✓ 🦆'),
    ];
    const viaJson = await rawCall(port, 'PutRecords', {
      StreamName,
      Records: payloads.map((data) => ({ Data: data.toString('base64'), PartitionKey: 'json' })),
    });
    assert.equal(viaJson.status, 200, viaJson.text);
    await ok(port, 'PutRecords', {
      Records: payloads.map((Data) => ({ Data, PartitionKey: 'cbor' })),
      StreamName,
    });
    const expected = [...payloads, ...payloads];

    const { ShardIterator } = await ok(port, 'GetShardIterator', {
      StreamName,
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'TRIM_HORIZON',
    });
    const cbor = await ok(port, 'GetRecords', { ShardIterator });
    const cborRecords = cbor.Records as Tree[];
    assert.deepEqual(
      cborRecords.map((r) => r.Data),
      expected,
    );
    assert.deepEqual(
      cborRecords.map((r) => r.PartitionKey),
      [...payloads.map(() => 'json'), ...payloads.map(() => 'cbor')],
    );

    const jsonIterator = await rawCall(port, 'GetShardIterator', {
      StreamName,
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'TRIM_HORIZON',
    });
    const json = await rawCall(port, 'GetRecords', { ShardIterator: jsonIterator.body.ShardIterator });
    const jsonRecords = json.body.Records as {
      Data: string;
      SequenceNumber: string;
      ApproximateArrivalTimestamp: number;
    }[];
    assert.deepEqual(
      jsonRecords.map((r) => Buffer.from(r.Data, 'base64')),
      expected,
    );
    // Same records, same sequence numbers and the same arrival times in both encodings.
    assert.deepEqual(
      jsonRecords.map((r) => r.SequenceNumber),
      cborRecords.map((r) => r.SequenceNumber),
    );
    assert.deepEqual(
      jsonRecords.map((r) => Math.round(r.ApproximateArrivalTimestamp * 1000)),
      cborRecords.map((r) => javaInstant(r.ApproximateArrivalTimestamp).getTime()),
    );
  });

  test('every implemented operation answers in CBOR', async () => {
    const StreamName = 'every';
    const arn = `arn:aws:kinesis:us-east-1:000000000000:stream/${StreamName}`;
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: '123456789012' },
          Action: ['kinesis:PutRecord'],
          Resource: arn,
        },
      ],
    });
    const context: Tree = {};
    const steps: [string, Tree | (() => Tree), (out: Tree) => void][] = [
      ['CreateStream', { StreamName, ShardCount: 2, Tags: { a: '1' } }, (o) => assert.deepEqual(o, {})],
      [
        'DescribeStream',
        { StreamName },
        (o) => javaInstant((o.StreamDescription as Tree).StreamCreationTimestamp),
      ],
      ['DescribeStreamSummary', { StreamName }, (o) => assert.ok(o.StreamDescriptionSummary)],
      ['ListStreams', {}, (o) => assert.ok((o.StreamNames as string[]).includes(StreamName))],
      ['ListShards', { StreamName, MaxResults: 1 }, (o) => assert.equal((o.Shards as Tree[]).length, 1)],
      [
        'PutRecord',
        { StreamName, Data: Buffer.from([1, 2, 3]), PartitionKey: 'k' },
        (o) => assert.ok(o.SequenceNumber),
      ],
      [
        'PutRecords',
        { Records: [{ Data: Buffer.from([4]), PartitionKey: 'k' }], StreamName },
        (o) => assert.equal(o.FailedRecordCount, 0),
      ],
      [
        'GetShardIterator',
        { StreamName, ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' },
        (o) => {
          context.iterator = o.ShardIterator;
        },
      ],
      [
        'GetRecords',
        () => ({ ShardIterator: context.iterator, Limit: 100 }),
        (o) => assert.ok(Array.isArray(o.Records)),
      ],
      ['AddTagsToStream', { StreamName, Tags: { b: '2' } }, () => {}],
      [
        'ListTagsForStream',
        { StreamName },
        (o) =>
          assert.deepEqual(o.Tags, [
            { Key: 'a', Value: '1' },
            { Key: 'b', Value: '2' },
          ]),
      ],
      ['RemoveTagsFromStream', { StreamName, TagKeys: ['b'] }, () => {}],
      ['TagResource', { Tags: { c: '3' }, ResourceARN: arn }, () => {}],
      ['ListTagsForResource', { ResourceARN: arn }, (o) => assert.equal((o.Tags as Tree[]).length, 2)],
      ['UntagResource', { TagKeys: ['c'], ResourceARN: arn }, () => {}],
      ['PutResourcePolicy', { ResourceARN: arn, Policy: policy }, () => {}],
      ['GetResourcePolicy', { ResourceARN: arn }, (o) => assert.equal(o.Policy, policy)],
      ['DeleteResourcePolicy', { ResourceARN: arn }, () => {}],
      ['IncreaseStreamRetentionPeriod', { StreamName, RetentionPeriodHours: 48 }, () => {}],
      ['DecreaseStreamRetentionPeriod', { StreamName, RetentionPeriodHours: 24 }, () => {}],
      [
        'EnableEnhancedMonitoring',
        { StreamName, ShardLevelMetrics: ['IncomingBytes'] },
        (o) => assert.deepEqual(o.DesiredShardLevelMetrics, ['IncomingBytes']),
      ],
      ['DisableEnhancedMonitoring', { StreamName, ShardLevelMetrics: ['ALL'] }, () => {}],
      ['StartStreamEncryption', { StreamName, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }, () => {}],
      ['StopStreamEncryption', { StreamName, EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }, () => {}],
      [
        'SplitShard',
        { StreamName, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: '1000' },
        () => {},
      ],
      [
        'MergeShards',
        { StreamName, ShardToMerge: 'shardId-000000000002', AdjacentShardToMerge: 'shardId-000000000003' },
        () => {},
      ],
      [
        'UpdateShardCount',
        { StreamName, TargetShardCount: 4, ScalingType: 'UNIFORM_SCALING' },
        (o) => assert.equal(o.TargetShardCount, 4),
      ],
      ['UpdateMaxRecordSize', { StreamARN: arn, MaxRecordSizeInKiB: 2048 }, () => {}],
      ['DescribeLimits', {}, (o) => assert.equal(typeof o.ShardLimit, 'number')],
      [
        'UpdateAccountSettings',
        { MinimumThroughputBillingCommitment: { Status: 'ENABLED' } },
        (o) => javaInstant((o.MinimumThroughputBillingCommitment as Tree).StartedAt),
      ],
      ['DescribeAccountSettings', {}, (o) => assert.ok(o.MinimumThroughputBillingCommitment)],
      ['UpdateStreamMode', { StreamARN: arn, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }, () => {}],
      ['UpdateStreamWarmThroughput', { StreamName, WarmThroughputMiBps: 10 }, () => {}],
      ['DeleteStream', { StreamName }, () => {}],
    ];
    const covered = new Set<string>();
    for (const [operation, input, check] of steps) {
      const out = await ok(port, operation, typeof input === 'function' ? input() : input);
      check(out);
      covered.add(operation);
      if (operation !== 'DeleteStream' && operation !== 'ListStreams') {
        await waitActive(port, StreamName).catch(() => {});
      }
    }
    // Operations implemented elsewhere (and any added later) still answer well-formed CBOR.
    for (const operation of Object.keys(operations)) {
      if (covered.has(operation)) continue;
      const res = await post(port, operation, java({}));
      assert.equal(res.headers['content-type'], cborContentType, operation);
      const tree = res.tree as Tree;
      if (res.status === 200) checkWireTypes(tree);
      else assert.equal(typeof tree.__type, 'string', operation);
    }
  });

  test('ResourceNotFoundException: the JSON message in the service’s CBOR error body', async () => {
    const json = await rawCall(port, 'DescribeStream', { StreamName: 'nowhere' });
    const res = await failure(port, 'DescribeStream', java({ StreamName: 'nowhere' }));
    assert.equal(res.status, json.status);
    assert.equal(json.body.__type, 'ResourceNotFoundException');
    assert.deepEqual(res.tree, json.body);
    assert.deepEqual(
      res.body,
      errorBody('ResourceNotFoundException', 'message', json.body.message as string),
    );
  });

  test('ValidationException: same message as JSON', async () => {
    const input = { StreamName: 'bad name!', Data: Buffer.from([0xff]), PartitionKey: '' };
    const json = await rawCall(port, 'PutRecord', { ...input, Data: input.Data.toString('base64') });
    const res = await failure(port, 'PutRecord', java(input));
    assert.equal(json.body.__type, 'ValidationException');
    assert.equal(res.status, json.status);
    assert.deepEqual(res.tree, json.body);
    const list = { Records: [{ Data: Buffer.alloc(0), PartitionKey: 'x'.repeat(300) }], StreamName: 'x' };
    const jsonList = await rawCall(port, 'PutRecords', {
      ...list,
      Records: [{ Data: '', PartitionKey: 'x'.repeat(300) }],
    });
    assert.deepEqual((await failure(port, 'PutRecords', java(list))).tree, jsonList.body);
  });

  test('SerializationException without a message: garbage, truncated, trailing bytes, empty body', async () => {
    const golden = fixture('put-record');
    const bodies = [
      Buffer.from('hello'), // a text head claiming 8 bytes, then 4
      Buffer.from([0xff, 0xff]),
      Buffer.from('{"StreamName":"golden"}'), // JSON is not CBOR
      golden.subarray(0, golden.length - 1),
      golden.subarray(0, 20),
      Buffer.concat([golden, Buffer.from([0x00])]),
      Buffer.from([0xbf, 0x61, 0x41, 0xff]), // a map ended after a key
      Buffer.from([0xa1, 0x41, 0x41, 0x00]), // a byte string as a map key
      Buffer.from([0x9f, 0xff]), // an array, not a map
      Buffer.from([0xf6]), // null
      Buffer.from([0x1c]), // reserved additional information
      Buffer.from([0xbf, 0x61, 0x41, 0x62, 0xc3, 0x28, 0xff]), // invalid UTF-8 in a text string
      Buffer.alloc(0),
    ];
    for (const body of bodies) {
      const res = await failure(port, 'PutRecord', body);
      assert.equal(res.status, 400, body.toString('hex'));
      assert.deepEqual(res.body, errorBody('SerializationException', 'Message'), body.toString('hex'));
    }
    // Exactly the service's bytes (docs/kinesis-errors.md 2.3).
    assert.equal(
      errorBody('SerializationException', 'Message').toString('hex'),
      `bf665f5f7479706576${Buffer.from('SerializationException').toString('hex')}ff`,
    );
  });

  test('wrong types: what validation reports for JSON, reported the same for CBOR', async () => {
    const cases: [string, Tree, Tree][] = [
      // A blob given as text is read as base64, as Jackson's getBinaryValue does for a text token.
      [
        'PutRecord',
        { StreamName: 'golden', Data: 'not base64!', PartitionKey: 'k' },
        { Data: 'not base64!' },
      ],
      ['PutRecord', { StreamName: 'golden', Data: 5, PartitionKey: 'k' }, { Data: 5 }],
      [
        'PutRecord',
        { StreamName: 'golden', Data: [Buffer.from('x')], PartitionKey: 'k' },
        { Data: ['eA=='] },
      ],
      [
        'PutRecord',
        { StreamName: 'golden', Data: Buffer.from('x'), PartitionKey: { a: 1 } },
        { Data: 'eA==', PartitionKey: { a: 1 } },
      ],
      ['PutRecords', { Records: { a: 1 }, StreamName: 'golden' }, {}],
      ['GetShardIterator', { ShardId: '0', ShardIteratorType: 'AT_TIMESTAMP', Timestamp: 'yesterday' }, {}],
      ['CreateStream', { StreamName: 'typed', ShardCount: 'two' }, {}],
      ['CreateStream', { StreamName: 'typed', ShardCount: true }, {}],
    ];
    for (const [operation, input, jsonOverrides] of cases) {
      const json = await rawCall(port, operation, { ...input, ...jsonOverrides });
      const res = await failure(port, operation, java(input));
      assert.equal(json.body.__type, 'SerializationException', JSON.stringify(json.body));
      assert.equal(res.status, json.status);
      assert.deepEqual(res.tree, json.body, operation);
    }
    // A byte string where a string is expected has no JSON form; it is a type error too.
    const bytes = await failure(port, 'DescribeStream', java({ StreamName: Buffer.from('golden') }));
    assert.equal(bytes.tree.__type, 'SerializationException');
    // Valid base64 text for a blob is accepted, as in JSON.
    const put = await ok(port, 'PutRecord', { StreamName: 'golden', Data: 'aGk=', PartitionKey: 'k' });
    assert.ok(put.SequenceNumber);
  });

  test('deep nesting is refused, not followed', async () => {
    const depth = 100_000;
    const nested = (open: number, close?: number) =>
      Buffer.concat([
        Buffer.from([0xbf]),
        javaString('StreamName'),
        javaString('golden'),
        javaString('Extra'),
        Buffer.alloc(depth, open),
        Buffer.from([0x00]),
        close === undefined ? Buffer.alloc(0) : Buffer.alloc(depth, close),
        Buffer.from([0xff]),
      ]);
    const started = Date.now();
    for (const body of [nested(0x81), nested(0x9f, 0xff), nested(0xc2)]) {
      const res = await failure(port, 'DescribeStream', body);
      assert.equal(res.tree.__type, 'SerializationException');
    }
    // Nested maps.
    const maps = Buffer.concat([
      Buffer.from([0xbf]),
      Buffer.concat(Array.from({ length: 10_000 }, () => Buffer.from([0x61, 0x41, 0xa1]))),
    ]);
    assert.equal((await failure(port, 'DescribeStream', maps)).tree.__type, 'SerializationException');
    assert.ok(Date.now() - started < 5_000);
    // Up to the bound it is fine (unknown members are ignored).
    const deepest = java({
      StreamName: 'golden',
      Extra: new Raw(Buffer.concat([Buffer.alloc(maxCborDepth - 1, 0x81), Buffer.from([0])])),
    });
    await ok(port, 'DescribeStreamSummary', deepest);
    const deeper = java({
      StreamName: 'golden',
      Extra: new Raw(Buffer.concat([Buffer.alloc(maxCborDepth, 0x81), Buffer.from([0])])),
    });
    assert.equal(
      (await failure(port, 'DescribeStreamSummary', deeper)).tree.__type,
      'SerializationException',
    );
    // The server is fine afterwards.
    await ok(port, 'ListStreams', {});
  });

  test('huge integers where an integer is expected: clamped like JSON numbers', async () => {
    const iterator = 'AAAAAAAAAAE=';
    const values: [unknown, string][] = [
      [2n ** 64n - 1n, '18446744073709551615'], // uint64, 1b ff..ff
      [2n ** 64n, '18446744073709551616'], // bignum, tag 2
      [2n ** 200n, `${2n ** 200n}`],
      [-(2n ** 64n), '-18446744073709551616'], // nint64, 3b ff..ff
      [-(2n ** 100n), `${-(2n ** 100n)}`], // bignum, tag 3
      [2 ** 40, `${2 ** 40}`],
    ];
    for (const [limit, jsonNumber] of values) {
      const json = await rawCall(port, 'GetRecords', `{"ShardIterator":"${iterator}","Limit":${jsonNumber}}`);
      const res = await failure(port, 'GetRecords', java({ ShardIterator: iterator, Limit: limit }));
      assert.equal(json.body.__type, 'ValidationException', String(limit));
      assert.deepEqual(res.tree, json.body, String(limit));
    }
    // A bignum longer than any number Kinesis takes is refused outright.
    const huge = java({ ShardIterator: iterator, Limit: 2n ** 1000n });
    assert.equal((await failure(port, 'GetRecords', huge)).tree.__type, 'SerializationException');
  });

  test('hostile length headers cannot make the decoder allocate: 2^32 items, 2^64 bytes, item floods', async () => {
    const heads = [
      '9affffffff', // array of 2^32-1 items
      '9bffffffffffffffff', // array of 2^64-1 items
      '9b0000000100000000', // array of 2^32 items
      'baffffffff', // map of 2^32-1 entries
      'bbffffffffffffffff',
      '5affffffff', // byte string of 2^32-1 bytes
      '5bffffffffffffffff',
      '7bffffffffffffffff', // text string of 2^64-1 bytes
      '7f7affffffff', // a chunk claiming 4 GiB
      '99ffff99ffff99ffff99ffff99ffff99ffff', // nested arrays each claiming 65535 items
    ];
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();
    for (const head of heads) {
      const body = java({
        StreamName: 'golden',
        Extra: new Raw(Buffer.concat([Buffer.from(head, 'hex'), Buffer.alloc(64)])),
      });
      const res = await failure(port, 'DescribeStream', body);
      assert.equal(res.tree.__type, 'SerializationException', head);
      assert.throws(() => parseCbor(Buffer.from(head, 'hex')));
    }
    // A well-formed body of more items than any request needs (a million zeros in one MiB).
    const flood = java({
      StreamName: 'golden',
      Extra: new Raw(Buffer.concat([Buffer.from('9a000f4240', 'hex'), Buffer.alloc(1_000_000)])),
    });
    assert.equal((await failure(port, 'DescribeStream', flood)).tree.__type, 'SerializationException');
    const flood2 = java({
      StreamName: 'golden',
      Extra: new Raw(
        Buffer.concat([Buffer.from('9f', 'hex'), Buffer.alloc(maxCborItems, 0xa0), Buffer.from('ff', 'hex')]),
      ),
    });
    assert.equal((await failure(port, 'DescribeStream', flood2)).tree.__type, 'SerializationException');
    // Empty chunks of an indefinite-length string are items too (each would be a Buffer object).
    const chunks = java({
      StreamName: 'golden',
      Extra: new Raw(
        Buffer.concat([Buffer.from('7f', 'hex'), Buffer.alloc(maxCborItems, 0x60), Buffer.from('ff', 'hex')]),
      ),
    });
    assert.equal((await failure(port, 'DescribeStream', chunks)).tree.__type, 'SerializationException');
    assert.ok(Date.now() - started < 5_000);
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 200 * 1024 * 1024);
    // Just under the item bound is accepted.
    const many = java({
      StreamName: 'golden',
      Extra: new Raw(
        Buffer.concat([
          Buffer.from('9f', 'hex'),
          Buffer.alloc(maxCborItems - 100, 0x00),
          Buffer.from('ff', 'hex'),
        ]),
      ),
    });
    await ok(port, 'DescribeStreamSummary', many);
  });

  test('tags other than timestamps and bignums are refused (no cbor-x extensions on the request path)', async () => {
    const tagged = [
      'd81b826545727272726178', // 27: generic object ["Error", "x"]
      'd81c80', // 28: shareable
      'd81d00', // 29: shared reference
      'd86982', // 105: record definition
      'd9dfff83', // 57343: inline record
      'd901028101', // 258: set
      'd901038000', // 259: map
      'd8404100', // 64: Uint8Array
      'c074323032332d31312d31345432323a31333a32305a', // 0: date string
      'd83380', // 51: packed values
      'c6c6c6c6c600', // 6: packed reference
    ];
    for (const hex of tagged) {
      const body = java({ StreamName: 'golden', Extra: new Raw(Buffer.from(hex, 'hex')) });
      const res = await failure(port, 'DescribeStream', body);
      assert.equal(res.tree.__type, 'SerializationException', hex);
    }
    // The self-describe tag 55799 and tag 1 anywhere are transparent.
    const described = Buffer.concat([Buffer.from('d9d9f7', 'hex'), java({ StreamName: 'golden' })]);
    await ok(port, 'DescribeStreamSummary', described);
  });

  test('long strings arrive chunked (indefinite length), as Jackson writes them past 3,996 characters', async () => {
    const StreamName = 'chunked';
    const ResourceARN = `arn:aws:kinesis:us-east-1:000000000000:stream/${StreamName}`;
    await ok(port, 'CreateStream', { StreamName, ShardCount: 1 });
    await waitActive(port, StreamName);
    const statement = {
      Effect: 'Allow',
      Principal: { AWS: '123456789012' },
      Action: 'kinesis:PutRecord',
      Resource: ResourceARN,
    };
    // A surrogate pair straddles the first chunk boundary, multi-byte characters fill the rest.
    const prefix = '{"Version":"2012-10-17","Id":"';
    const id = `${'i'.repeat(3995 - prefix.length)}🦆${'é'.repeat(3000)}`;
    const Policy = `${prefix}${id}","Statement":[${JSON.stringify(statement)}]}`;
    assert.equal(Policy.charCodeAt(3995), '🦆'.charCodeAt(0));
    const body = java({ ResourceARN, Policy });
    assert.ok(body.includes(Buffer.from([0x7f, 0x79])), 'the policy is chunked');
    await ok(port, 'PutResourcePolicy', body);
    const got = await ok(port, 'GetResourcePolicy', { ResourceARN });
    assert.equal(got.Policy, Policy);
  });

  test('SubscribeToShard over HTTP/2: events carry CBOR payloads the Java SDK reads', async () => {
    const StreamName = 'fanout';
    await ok(port, 'CreateStream', { StreamName, ShardCount: 1 });
    await waitActive(port, StreamName);
    const StreamARN = `arn:aws:kinesis:us-east-1:000000000000:stream/${StreamName}`;
    const registered = await ok(port, 'RegisterStreamConsumer', { StreamARN, ConsumerName: 'java' });
    const consumer = registered.Consumer as Tree;
    javaInstant(consumer.ConsumerCreationTimestamp);
    for (let i = 0; i < 200; i++) {
      const described = await ok(port, 'DescribeStreamConsumer', { ConsumerARN: consumer.ConsumerARN });
      if ((described.ConsumerDescription as Tree).ConsumerStatus === 'ACTIVE') break;
      await sleep(10);
    }
    const data = Buffer.from([0x00, 0xff, 0x80]);
    await ok(port, 'PutRecord', { StreamName, Data: data, PartitionKey: 'k' });

    const session = http2.connect(`http://127.0.0.1:${port}`);
    const events: { type: string; contentType: string; payload: unknown }[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const req = session.request({
          ':method': 'POST',
          ':path': '/',
          'content-type': cborContentType,
          'x-amz-target': 'Kinesis_20131202.SubscribeToShard',
          'x-amz-date': '20260101T000000Z',
          authorization:
            'AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=c',
        });
        const codec = new EventStreamCodec(toUtf8, fromUtf8);
        let pending = Buffer.alloc(0);
        req.on('response', (headers) => {
          if (headers[':status'] !== 200) reject(new Error(`status ${headers[':status']}`));
        });
        req.on('data', (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 4 && pending.length >= pending.readUInt32BE(0)) {
            const message = codec.decode(pending.subarray(0, pending.readUInt32BE(0)));
            pending = pending.subarray(pending.readUInt32BE(0));
            const header = (name: string) => String(message.headers[name]?.value ?? '');
            events.push({
              type: header(':event-type') || header(':exception-type'),
              contentType: header(':content-type'),
              payload: readCbor(Buffer.from(message.body)),
            });
            if (header(':event-type') === 'SubscribeToShardEvent') {
              req.close();
              resolve();
            }
          }
        });
        req.on('error', reject);
        req.on('close', () => resolve());
        req.end(
          java({
            ConsumerARN: consumer.ConsumerARN,
            ShardId: 'shardId-000000000000',
            StartingPosition: { Type: 'TRIM_HORIZON' },
          }),
        );
      });
    } finally {
      session.close();
    }
    assert.deepEqual(
      events.map((e) => [e.type, e.contentType]),
      [
        ['initial-response', cborContentType],
        ['SubscribeToShardEvent', cborContentType],
      ],
    );
    const event = events[1]?.payload as Tree;
    checkWireTypes(event);
    const [record] = event.Records as Tree[];
    assert.deepEqual(record?.Data, data);
    javaInstant(record?.ApproximateArrivalTimestamp);
    assert.match(event.ContinuationSequenceNumber as string, /^\d+$/);
    await ok(port, 'DeregisterStreamConsumer', { ConsumerARN: consumer.ConsumerARN });
  });

  test('mutated golden bodies: refused as CborSyntaxError or read exactly as an independent reader reads them', () => {
    const goldens = [
      'create-stream',
      'put-record',
      'put-records',
      'get-shard-iterator-at-timestamp',
      'list-shards-at-timestamp',
    ].map((name) => fixture(name));
    // What parseCbor promises: tags 1 and 55799 transparent, bignums as numbers or bigints, no undefined.
    const plain = (node: unknown): unknown => {
      if (node instanceof CborTag) {
        if (node.tag === 2 || node.tag === 3) {
          const magnitude = BigInt(`0x0${(node.value as Buffer).toString('hex')}`);
          return plain(node.tag === 2 ? magnitude : -1n - magnitude);
        }
        return plain(node.value);
      }
      if (node instanceof CborFloat) return node.value;
      if (typeof node === 'bigint') return Number.isSafeInteger(Number(node)) ? Number(node) : node;
      if (node === undefined) return null;
      if (Array.isArray(node)) return node.map(plain);
      if (node !== null && typeof node === 'object' && !Buffer.isBuffer(node)) {
        const out: Tree = {};
        for (const [key, value] of Object.entries(node)) {
          Object.defineProperty(out, key, {
            value: plain(value),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
      return node;
    };
    let seed = 20260101;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let body = Buffer.from(goldens[random(goldens.length)] as Buffer);
      const at = random(body.length);
      switch (random(4)) {
        case 0:
          body[at] = random(256);
          break;
        case 1:
          body = body.subarray(0, at);
          break;
        case 2:
          body = Buffer.concat([
            body.subarray(0, at),
            Buffer.from([random(256), random(256)]),
            body.subarray(at),
          ]);
          break;
        default:
          body[at] = (body[at] as number) ^ (1 << random(8));
      }
      let parsed: unknown;
      try {
        parsed = parseCbor(body);
      } catch (error) {
        assert.ok(error instanceof CborSyntaxError, `${body.toString('hex')}: ${error}`);
        continue;
      }
      accepted++;
      assert.deepEqual(parsed, plain(readCbor(body, true)), body.toString('hex'));
    }
    assert.ok(accepted > 1000, `only ${accepted} mutations were well-formed`);
  });

  test('content type parameters and case, and the JSON protocol beside it', async () => {
    for (const type of ['application/x-amz-cbor-1.1; charset=utf-8', 'Application/X-Amz-CBOR-1.1']) {
      const res = await post(port, 'ListStreams', java({}), { 'Content-Type': type });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], cborContentType);
    }
    assert.equal(codecFor('application/x-amz-cbor-1.1'), cborCodec);
    const json = await rawCall(port, 'ListStreams', {});
    assert.equal(json.headers.get('content-type'), 'application/x-amz-json-1.1');
  });
});

describe('CBOR response encoding', () => {
  test('plain RFC 8949: byte strings, tag 1 milliseconds, 64-bit integers, no extensions', () => {
    const out = encodeCbor({
      Data: Buffer.from([0, 255]),
      View: new Uint8Array([1, 2]),
      At: new Date(1787036486712),
      Epoch: new Date(0),
      Millis: 31_536_000_000, // a year behind: beyond 32 bits, still an integer
      Small: 7,
      Negative: -(2 ** 40),
      Fraction: 0.5,
      Absent: undefined,
      Null: null,
      List: [{ A: 'x' }, []],
      Nested: { Deep: { Deeper: true } },
    });
    assert.deepEqual(readCbor(out), {
      Data: Buffer.from([0, 255]),
      View: Buffer.from([1, 2]),
      At: new CborTag(1, 1787036486712),
      Epoch: new CborTag(1, 0),
      Millis: 31_536_000_000,
      Small: 7,
      Negative: -(2 ** 40),
      Fraction: new CborFloat(0.5),
      Null: null,
      List: [{ A: 'x' }, []],
      Nested: { Deep: { Deeper: true } },
    });
    const hex = out.toString('hex');
    assert.ok(hex.includes('4400ff') || hex.includes('4200ff'), 'Data is a byte string');
    assert.ok(hex.includes('c11b000001a013accc38'), 'tag 1 with 64-bit milliseconds');
    assert.ok(hex.includes('1b0000000757b12c00'), 'integers beyond 32 bits are 64-bit integers, not floats');
    assert.ok(!hex.includes('d840'), 'no tag 64 on byte arrays');
    // Nothing but tag 1 appears: no records (tags 105, 0xe000..), no shared structures, no packing.
    const tags: number[] = [];
    const walk = (node: unknown) => {
      if (node instanceof CborTag) {
        tags.push(node.tag);
        walk(node.value);
      } else if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object' && !Buffer.isBuffer(node)) Object.values(node).forEach(walk);
    };
    walk(
      readCbor(
        encodeCbor({ Records: Array.from({ length: 50 }, (_, i) => ({ A: i, B: 'same', C: new Date(i) })) }),
      ),
    );
    assert.deepEqual([...new Set(tags)], [1]);
  });

  test('keys of any name stay ordinary entries both ways', () => {
    const tags = JSON.parse('{"__proto__":"x","constructor":"y"}') as Tree;
    const parsed = parseCbor(java({ Tags: tags })) as Tree;
    assert.deepEqual(Object.keys(parsed.Tags as Tree), ['__proto__', 'constructor']);
    assert.equal(Object.getPrototypeOf(parsed.Tags), Object.prototype);
    const out: Tree = {};
    Object.defineProperty(out, '__proto__', { value: 'z', enumerable: true });
    assert.deepEqual(Object.keys(readCbor(encodeCbor(out)) as Tree), ['__proto__']);
  });

  test('error bodies are the service’s indefinite-length maps', () => {
    assert.equal(
      Buffer.from(cborCodec.encodeError('UnknownOperationException', undefined, 'message')).toString('hex'),
      `bf665f5f74797065781955${Buffer.from('nknownOperationException').toString('hex')}ff`,
    );
    assert.deepEqual(
      readCbor(Buffer.from(cborCodec.encodeError('ResourceNotFoundException', 'gone', 'message'))),
      {
        __type: 'ResourceNotFoundException',
        message: 'gone',
      },
    );
  });
});
