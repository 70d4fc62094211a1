/**
 * The PutRecords/PutRecord fast path (src/api/putrecords-fast.ts) against the generic path
 * (JSON.parse + decodeInput). Property: for generated valid and near-valid bodies (random JSON
 * whitespace, member order, escapes, non-ASCII, bad base64, boundary lengths, unknown and duplicate
 * members, wrong types, trailing bytes, truncation), the fast path either declines (undefined) or
 * returns exactly the generic path's decoded input, and it never declines a plain valid body. Then
 * end to end through a real server with the AWS SDK and raw HTTP.
 *
 * Seeds are fixed (printed by fast-check on failure); SLUICE_FUZZ_SEED and SLUICE_FUZZ_SCALE apply.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import fc from 'fast-check';
import { fastDecode } from '../src/api/putrecords-fast.js';
import { type DecodeResult, decodeInput } from '../src/api/validation.js';
import type { Sluice } from '../src/app.js';
import { fastPath } from '../src/limits.js';
import { fuzzParameters } from './fuzz-helpers.js';
import { kinesisClient, rawCall, startTestServer } from './helpers.js';

type Operation = 'PutRecords' | 'PutRecord';

/** The generic path as the handler runs it: the JSON codec's parse, the object check, decodeInput. */
function generic(operation: Operation, body: Buffer): DecodeResult | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  return decodeInput(operation, parsed, 'json');
}

/** A JSON value as text, and whether it is of the plain form the fast path must take. */
interface Token {
  json: string;
  plain: boolean;
}

/** A JSON string token is plain when it has no escape and only printable ASCII (and DEL). */
const plainString = (json: string): boolean => /^"[\x20\x21\x23-\x5b\x5d-\x7f]*"$/.test(json);
const stringToken = (json: string): Token => ({ json, plain: plainString(json) });
const quoted = (text: string): Token => stringToken(JSON.stringify(text));

const wrongType = fc.constantFrom('null', '0', '12.5', 'true', '[]', '{}', '["AAAA"]', '{"a":"b"}');
const wrongTypeToken = wrongType.map((json): Token => ({ json, plain: false }));

const canonical = fc.uint8Array({ maxLength: 48 }).map((bytes) => Buffer.from(bytes).toString('base64'));

/** Base64 text that may not be canonical (or not base64), and may need escaping in JSON. */
const base64Text = fc.oneof(
  { weight: 16, arbitrary: canonical },
  {
    weight: 3,
    arbitrary: fc.tuple(canonical, fc.nat(), fc.integer({ min: 0, max: 9 })).map(([text, at, mutation]) => {
      const i = text.length === 0 ? 0 : at % text.length;
      switch (mutation) {
        case 0:
          return text.replace(/=+$/, ''); // unpadded
        case 1:
          return `${text.slice(0, i)}-${text.slice(i + 1)}`; // URL alphabet
        case 2:
          return `${text.slice(0, i)}_${text.slice(i + 1)}`;
        case 3: {
          // stray bits before the padding
          const pad = text.indexOf('=');
          if (pad < 1) return `${text}A`;
          const last = text.charAt(pad - 1);
          return `${text.slice(0, pad - 1)}${last === 'A' ? 'B' : 'Z'}${text.slice(pad)}`;
        }
        case 4:
          return `${text.slice(0, i)} ${text.slice(i)}`;
        case 5:
          return `${text.slice(0, i)}\n${text.slice(i)}`;
        case 6:
          return `${text.slice(0, i)}=${text.slice(i)}`;
        case 7:
          return `${text.slice(0, i)}é${text.slice(i)}`;
        case 8:
          return `${text}====`;
        default:
          return `${text.slice(0, i)}"${text.slice(i)}`;
      }
    }),
  },
);

const dataToken: fc.Arbitrary<Token> = fc.oneof(
  { weight: 16, arbitrary: base64Text.map(quoted) },
  // A "/" written as the escape "\/": the same string to JSON.parse.
  { weight: 1, arbitrary: canonical.map((text) => stringToken(`"${text.replaceAll('/', '\\/')}"`)) },
  { weight: 1, arbitrary: wrongTypeToken },
);

const asciiUnit = fc.constantFrom(...'abcXYZ019 -_.:/!~\x7f');
const partitionKeyToken: fc.Arbitrary<Token> = fc.oneof(
  { weight: 16, arbitrary: fc.string({ unit: asciiUnit, minLength: 1, maxLength: 12 }).map(quoted) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(0, 1, 255, 256, 257).map((n) => quoted('k'.repeat(n))),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }).map(quoted) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('"\\u0041"', '"a\\"b"', '"\\\\"', '"\\n"', '"\\/"').map(stringToken),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }).map((s) => quoted(`${s}\t`)) },
  { weight: 1, arbitrary: wrongTypeToken },
);

const hashKeyToken: fc.Arbitrary<Token> = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 130n }).map((n) => quoted(n.toString())) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('0', '00', '01', '', '-1', '1e3', ' 1', '1'.repeat(39), '9'.repeat(40), 'x')
      .map(quoted),
  },
  { weight: 1, arbitrary: wrongTypeToken },
);

const unknownName = fc.constantFrom('Foo', 'data', 'Dätä', '__proto__', 'Records', 'StreamName', 'Data');
const anyValue: fc.Arbitrary<Token> = fc.oneof(wrongTypeToken, fc.constant(quoted('x')));

/** `arbitrary`'s value with probability `p`, else null. */
function sometimes<T>(arbitrary: fc.Arbitrary<T>, p: number): fc.Arbitrary<T | null> {
  return fc
    .tuple(fc.noBias(fc.integer({ min: 0, max: 999 })), arbitrary)
    .map(([roll, value]) => (roll < p * 1000 ? value : null));
}

const streamMember: fc.Arbitrary<Array<[string, Token]>> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Array<[string, Token]>>([]) },
  { weight: 12, arbitrary: fc.constant<Array<[string, Token]>>([['StreamName', quoted('fast-1')]]) },
  {
    weight: 4,
    arbitrary: fc
      .constantFrom('fast-1', 's', 'a'.repeat(128), 'a'.repeat(129), 'bad name', '', 'ümlaut')
      .map((name): Array<[string, Token]> => [['StreamName', quoted(name)]]),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        'arn:aws:kinesis:us-east-1:000000000000:stream/fast-1',
        'arn:aws:kinesis:us-east-1:0000:stream/fast-1',
        'arn:aws:kinesis:us-east-1:000000000000:stream/a b',
      )
      .map((arn): Array<[string, Token]> => [['StreamARN', quoted(arn)]]),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('abcdefghij0123456789-abc', 'abcdefghij0123456789-ab', 'ABCDEFGHIJ0123456789-abc')
      .map((id): Array<[string, Token]> => [['StreamId', quoted(id)]]),
  },
  {
    weight: 1,
    arbitrary: fc.constant<Array<[string, Token]>>([
      ['StreamName', quoted('fast-1')],
      ['StreamARN', quoted('arn:aws:kinesis:us-east-1:000000000000:stream/fast-1')],
    ]),
  },
  { weight: 1, arbitrary: wrongTypeToken.map((t): Array<[string, Token]> => [['StreamName', t]]) },
);

/** A structure's members: required ones usually present, optional ones sometimes, an unknown or a
 * duplicate member rarely; in random order. */
function membersArb(
  parts: Array<{ name: string; value: fc.Arbitrary<Token>; presence: number }>,
): fc.Arbitrary<Array<[string, Token]>> {
  return fc
    .tuple(
      fc.tuple(...parts.map((part) => sometimes(part.value, part.presence))),
      sometimes(fc.tuple(unknownName, anyValue), 0.03),
      sometimes(fc.nat(), 0.03),
      fc.array(fc.nat(), { minLength: parts.length + 2, maxLength: parts.length + 2 }),
    )
    .map(([values, extra, duplicate, order]) => {
      const members: Array<[string, Token]> = [];
      values.forEach((value, i) => {
        const part = parts[i];
        if (part && value !== null) members.push([part.name, value]);
      });
      if (extra) members.push(extra);
      if (duplicate !== null && members.length > 0) {
        const copy = members[duplicate % members.length];
        if (copy) members.push(copy);
      }
      const keyed = members.map((member, i) => ({ member, key: order[i] ?? i }));
      keyed.sort((a, b) => a.key - b.key);
      return keyed.map((k) => k.member);
    });
}

const recordMembers = membersArb([
  { name: 'Data', value: dataToken, presence: 0.95 },
  { name: 'PartitionKey', value: partitionKeyToken, presence: 0.95 },
  { name: 'ExplicitHashKey', value: hashKeyToken, presence: 0.3 },
]);

/** Records meant to be valid (and plain): canonical base64, printable ASCII keys of every allowed
 * length, hash keys within the pattern. */
const cleanRecordMembers = membersArb([
  { name: 'Data', value: canonical.map(quoted), presence: 1 },
  {
    name: 'PartitionKey',
    value: fc
      .oneof(
        fc.string({ unit: asciiUnit, minLength: 1, maxLength: 12 }),
        fc.constantFrom('k', 'k'.repeat(256)),
      )
      .map(quoted),
    presence: 1,
  },
  {
    name: 'ExplicitHashKey',
    value: fc.bigInt({ min: 0n, max: 10n ** 38n }).map((n) => quoted(n.toString())),
    presence: 0.3,
  },
]);

const putRecordMembers = membersArb([
  { name: 'Data', value: dataToken, presence: 0.95 },
  { name: 'PartitionKey', value: partitionKeyToken, presence: 0.95 },
  { name: 'ExplicitHashKey', value: hashKeyToken, presence: 0.3 },
  {
    name: 'SequenceNumberForOrdering',
    value: fc
      .constantFrom('0', '49590338271490256608559692538361571095921575989136588898', '01', 'x')
      .map(quoted),
    presence: 0.2,
  },
]);

const whitespace = fc.string({ unit: fc.constantFrom(' ', '\n', '\t', '\r'), maxLength: 2 });
/** Whitespace between tokens, and which member name (if any) is written with an escape. */
const gapsArb = fc.tuple(fc.array(whitespace, { minLength: 16, maxLength: 16 }), sometimes(fc.nat(8), 0.1));

/** Renders members as a JSON object with the generated whitespace; plain when every value is. */
class Writer {
  private gap = 0;
  private names = 0;
  constructor(private readonly layout: [string[], number | null]) {}
  private get gaps(): string[] {
    return this.layout[0];
  }
  /** A member name as JSON, its first character escaped ("\u0044ata") if it is the chosen one. */
  private name(name: string): { json: string; escaped: boolean } {
    if (this.names++ !== this.layout[1] || name.length === 0)
      return { json: JSON.stringify(name), escaped: false };
    const code = name.charCodeAt(0).toString(16).padStart(4, '0');
    return { json: `"\\u${code}${JSON.stringify(name).slice(2)}`, escaped: true };
  }
  ws(): string {
    return this.gaps[this.gap++ % this.gaps.length] ?? '';
  }
  object(members: Array<[string, Token]>, known: Set<string>): Token {
    const names = new Set(members.map(([name]) => name));
    let plain = names.size === members.length;
    const parts = members.map(([name, value]) => {
      const written = this.name(name);
      plain &&= known.has(name) && value.plain && !written.escaped;
      return `${this.ws()}${written.json}${this.ws()}:${this.ws()}${value.json}${this.ws()}`;
    });
    return { json: `{${parts.length === 0 ? this.ws() : parts.join(',')}}`, plain };
  }
  array(tokens: Token[]): Token {
    const json = `[${tokens.length === 0 ? this.ws() : tokens.map((t) => `${this.ws()}${t.json}${this.ws()}`).join(',')}]`;
    return { json, plain: tokens.every((t) => t.plain) };
  }
}

const recordKnown = new Set(['Data', 'PartitionKey', 'ExplicitHashKey']);
const putRecordsKnown = new Set(['Records', 'StreamName', 'StreamARN', 'StreamId']);
const putRecordKnown = new Set([
  ...recordKnown,
  'SequenceNumberForOrdering',
  'StreamName',
  'StreamARN',
  'StreamId',
]);

const tail = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('', ' \n') },
  { weight: 1, arbitrary: fc.constantFrom('x', ',', '}', '\u0000', '{}') },
);

interface Body {
  text: string;
  /** Of the plain form the fast path must take if the generic path accepts it. */
  plain: boolean;
}

function finish(object: Token, gaps: Writer, trailing: string, cut: number | null): Body {
  let text = `${gaps.ws()}${object.json}${gaps.ws()}${trailing}`;
  let plain = object.plain && trailing.trim() === '';
  if (cut !== null) {
    text = text.slice(0, cut % (text.length + 1));
    plain = false;
  }
  return { text, plain };
}

const putRecordsBody: fc.Arbitrary<Body> = fc
  .tuple(
    gapsArb,
    fc.oneof(
      { weight: 6, arbitrary: fc.array(recordMembers, { maxLength: 4 }) },
      { weight: 6, arbitrary: fc.array(cleanRecordMembers, { maxLength: 6 }) },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(499, 500, 501)
          .chain((n) => fc.array(recordMembers, { minLength: n, maxLength: n })),
      },
    ),
    sometimes(wrongTypeToken, 0.05),
    streamMember,
    sometimes(fc.tuple(unknownName, anyValue), 0.05),
    fc.nat(),
    tail,
    sometimes(fc.nat(), 0.067),
  )
  .map(([gaps, records, recordsInstead, stream, extra, position, trailing, cut]) => {
    const writer = new Writer(gaps);
    const list = recordsInstead ?? writer.array(records.map((r) => writer.object(r, recordKnown)));
    const members: Array<[string, Token]> = [...stream];
    if (extra) members.push(extra);
    members.splice(position % (members.length + 1), 0, ['Records', list]);
    return finish(writer.object(members, putRecordsKnown), writer, trailing, cut);
  });

const putRecordBody: fc.Arbitrary<Body> = fc
  .tuple(gapsArb, putRecordMembers, streamMember, fc.nat(), tail, sometimes(fc.nat(), 0.067))
  .map(([gaps, record, stream, position, trailing, cut]) => {
    const writer = new Writer(gaps);
    const members = [...record];
    members.splice(position % (members.length + 1), 0, ...stream);
    return finish(writer.object(members, putRecordKnown), writer, trailing, cut);
  });

function assertSameAsGeneric(
  operation: Operation,
  body: Body,
  chunkChars: number,
  tally: { fast: number; generic: number },
): void {
  const bytes = Buffer.from(body.text, 'utf8');
  const expected = generic(operation, bytes);
  const got = fastDecode(operation, bytes, chunkChars);
  if (got !== undefined) {
    tally.fast++;
    assert.ok(expected?.ok, `the fast path took a body the generic path refuses: ${body.text}`);
    assert.deepStrictEqual(got, expected.input);
    // Same members in the same order, at every level.
    assert.equal(JSON.stringify(got), JSON.stringify(expected.input));
  } else {
    tally.generic++;
    assert.ok(!(body.plain && expected?.ok), `the fast path declined a plain, valid body: ${body.text}`);
  }
}

describe('PutRecords fast path: same input as JSON.parse + decodeInput', () => {
  for (const [operation, arbitrary, seed] of [
    ['PutRecords', putRecordsBody, 5101],
    ['PutRecord', putRecordBody, 5102],
  ] as const) {
    test(`${operation}: generated bodies`, (t) => {
      const tally = { fast: 0, generic: 0 };
      fc.assert(
        fc.property(arbitrary, fc.constantFrom(4, 8, 12, fastPath.base64ChunkChars), (body, chunkChars) =>
          assertSameAsGeneric(operation, body, chunkChars, tally),
        ),
        fuzzParameters(seed, 3000),
      );
      t.diagnostic(`fast path ${tally.fast}, generic path ${tally.generic}`);
      // Both outcomes are exercised (the generator is not stuck on one side).
      assert.ok(tally.fast > tally.generic / 20, `fast ${tally.fast}, generic ${tally.generic}`);
      assert.ok(tally.generic > tally.fast / 20, `fast ${tally.fast}, generic ${tally.generic}`);
    });
  }

  test('records in one piece and in many, at the Data size limit and past it', () => {
    const tally = { fast: 0, generic: 0 };
    const big = randomBytes(10 * 1024 * 1024 + 1);
    const cases: Array<{ data: Buffer; fast: boolean }> = [
      { data: big.subarray(0, 10 * 1024 * 1024), fast: true },
      { data: big, fast: false },
      { data: big.subarray(0, 200 * 1024 + 1), fast: true },
      { data: big.subarray(0, 200 * 1024 + 2), fast: true },
      { data: big.subarray(0, 200 * 1024), fast: true },
    ];
    for (const { data, fast } of cases) {
      const text = `{"StreamName":"s","Records":[{"Data":"${data.toString('base64')}","PartitionKey":"k"},{"PartitionKey":"k","Data":"AQ=="}]}`;
      for (const chunkChars of [4, 4096, fastPath.base64ChunkChars, 2 ** 30]) {
        const before = tally.fast;
        assertSameAsGeneric('PutRecords', { text, plain: true }, chunkChars, tally);
        assert.equal(tally.fast > before, fast);
      }
    }
    // 500 records (the model's maximum) and 501.
    for (const [count, fast] of [
      [500, true],
      [501, false],
    ] as const) {
      const records = Array.from({ length: count }, (_, i) => ({ PartitionKey: `k${i}`, Data: 'AAAA' }));
      const before = tally.fast;
      assertSameAsGeneric(
        'PutRecords',
        { text: JSON.stringify({ Records: records }), plain: true },
        4,
        tally,
      );
      assert.equal(tally.fast > before, fast);
    }
    // Stray bits in the last character before the padding of a long value, on each decoder.
    const stray = `${big
      .subarray(0, 200 * 1024 + 1)
      .toString('base64')
      .slice(0, -3)}AB=`;
    for (const chunkChars of [4, 4096, fastPath.base64ChunkChars, 2 ** 30]) {
      const text = `{"StreamName":"s","Records":[{"Data":"${stray}","PartitionKey":"k"}]}`;
      assert.equal(fastDecode('PutRecords', Buffer.from(text), chunkChars), undefined);
      assert.equal(generic('PutRecords', Buffer.from(text))?.ok, false);
    }
  });
});

describe('PutRecords fast path end to end (AWS SDK v3 and raw HTTP)', () => {
  let server: Sluice;
  let client: KinesisClient;
  const StreamName = 'fast-e2e';

  before(async () => {
    server = await startTestServer();
    client = kinesisClient(server.port);
    await client.send(new CreateStreamCommand({ StreamName, ShardCount: 2 }));
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  /** Every record of the stream, by sequence number, read from each shard's start (bounded). */
  async function readAll(): Promise<Map<string, { data: Buffer; key: string }>> {
    const out = new Map<string, { data: Buffer; key: string }>();
    const { Shards } = await client.send(new ListShardsCommand({ StreamName }));
    for (const shard of Shards ?? []) {
      let { ShardIterator: iterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      for (let call = 0; call < 50 && iterator; call++) {
        const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
        for (const r of page.Records ?? []) {
          out.set(r.SequenceNumber ?? '', { data: Buffer.from(r.Data ?? []), key: r.PartitionKey ?? '' });
        }
        if ((page.Records ?? []).length === 0 || page.MillisBehindLatest === 0) break;
        iterator = page.NextShardIterator;
      }
    }
    return out;
  }

  test('PutRecords and PutRecord via the SDK; GetRecords returns the same bytes', async () => {
    const sizes = [0, 1, 2, 3, 1024, 100 * 1024, 200 * 1024 + 1];
    const entries = sizes.map((size, i) => ({
      Data: new Uint8Array(randomBytes(size)),
      PartitionKey: `key-${i}`,
    }));
    entries.push({ Data: new Uint8Array(randomBytes(17)), PartitionKey: 'hashed' });
    const put = await client.send(
      new PutRecordsCommand({
        StreamName,
        Records: entries.map((e, i) => (i === entries.length - 1 ? { ...e, ExplicitHashKey: '0' } : e)),
      }),
    );
    assert.equal(put.FailedRecordCount, 0);
    const one = { Data: new Uint8Array(randomBytes(300)), PartitionKey: 'single' };
    const single = await client.send(new PutRecordCommand({ StreamName, ...one }));
    const written = new Map<string, { data: Buffer; key: string }>();
    put.Records?.forEach((r, i) => {
      const entry = entries[i];
      if (entry)
        written.set(r.SequenceNumber ?? '', { data: Buffer.from(entry.Data), key: entry.PartitionKey });
    });
    written.set(single.SequenceNumber ?? '', { data: Buffer.from(one.Data), key: one.PartitionKey });
    assert.equal(put.Records?.at(-1)?.ShardId, 'shardId-000000000000');
    const read = await readAll();
    for (const [sequence, record] of written) {
      const got = read.get(sequence);
      assert.ok(got, `record ${sequence} read back`);
      assert.equal(got.key, record.key);
      assert.ok(got.data.equals(record.data), `bytes of ${record.key}`);
    }
  });

  test("an escaped partition key and bad bodies get the generic path's answers", async () => {
    const escaped = `{"StreamName":"${StreamName}","Records":[{"Data":"AQID","PartitionKey":"\\u0041"}]}`;
    assert.equal(fastDecode('PutRecords', Buffer.from(escaped)), undefined);
    const answer = await rawCall(server.port, 'PutRecords', escaped);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.FailedRecordCount, 0);
    const sequence = (answer.body.Records as Array<{ SequenceNumber: string }>)[0]?.SequenceNumber ?? '';
    const read = await readAll();
    assert.equal(read.get(sequence)?.key, 'A');
    assert.deepEqual([...(read.get(sequence)?.data ?? [])], [1, 2, 3]);

    // Refused bodies: the answer is the generic path's error, word for word.
    for (const body of [
      `{"StreamName":"${StreamName}","Records":[{"Data":"AB==","PartitionKey":"k"}]}`,
      `{"StreamName":"${StreamName}","Records":[{"Data":"AQID","PartitionKey":""}]}`,
      `{"StreamName":"${StreamName}","Records":[]}`,
      `{"StreamName":"bad name","Records":[{"Data":"AQID","PartitionKey":"k","ExplicitHashKey":"01"}]}`,
    ]) {
      const expected = generic('PutRecords', Buffer.from(body));
      assert.ok(expected && !expected.ok);
      const refused = await rawCall(server.port, 'PutRecords', body);
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.body.__type, expected.error.name);
      assert.equal(refused.body.Message ?? refused.body.message, expected.error.message);
    }
  });
});
