/**
 * Bad request bodies, generated: every operation of the API model over JSON 1.1 and CBOR 1.1, with
 * model-shaped inputs mutated by hostile values (1e400, 2^64, -0, NaN-like strings, 100k-deep nesting,
 * broken UTF-8), truncated and garbage bodies, and every member of every input shape given every wrong
 * type. Property: each request gets a well-formed answer (an allowed status, never a 500, a `__type`
 * body) within a client timeout, the server (a child process) keeps answering, and a concurrent
 * well-behaved client keeps succeeding and reads back every record it wrote.
 *
 * Seeds are fixed (printed by fast-check on failure); SLUICE_FUZZ_SEED overrides every seed,
 * SLUICE_FUZZ_SCALE multiplies the number of runs, SLUICE_FUZZ_SHRINK=1 shrinks counterexamples.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type Answer,
  Bystander,
  briefAnswer,
  CborRaw,
  type ChildServer,
  cborBytes,
  cborType,
  describeAnswer,
  errorTypeOf,
  fixedAuthorization,
  fixedDate,
  fuzzParameters,
  fuzzStreams,
  H2Client,
  hostileValue,
  illFormed,
  inputArb,
  internalErrors,
  JsonRaw,
  jsonBytes,
  jsonType,
  kinesisRaw,
  model,
  operationNames,
  pathsOf,
  retryShed,
  type ShapeDef,
  shape,
  shedStats,
  startChildServer,
  stillServing,
  targetPrefix,
  type Wire,
  withValueAt,
} from './fuzz-helpers.js';

const contentTypeOf = (wire: Wire) => (wire === 'json' ? jsonType : cborType);
const encode = (wire: Wire, value: unknown) => (wire === 'json' ? jsonBytes(value) : cborBytes(value));

/** Byte sequences that are not UTF-8: a stray continuation byte, 0xff, an overlong '/', a UTF-16
 * surrogate encoded as UTF-8 (CESU), a 5-byte form, a sequence cut short. */
const invalidUtf8 = [
  '80',
  'ff',
  'fe',
  'c0af',
  'c328',
  'eda080',
  'edbfbf',
  'f888808080',
  'e282',
  'f4908080',
].map((hex) => Buffer.from(hex, 'hex'));

/** Mutations of a serialised body: cut short, a byte changed, garbage appended, broken UTF-8 inserted. */
function bodyMutation(body: Buffer): fc.Arbitrary<{ what: string; body: Buffer }> {
  const at = fc.nat({ max: Math.max(0, body.length) });
  return fc.oneof(
    at.map((n) => ({ what: `truncated at ${n}`, body: body.subarray(0, n) })),
    fc.tuple(at, fc.integer({ min: 0, max: 255 })).map(([n, byte]) => {
      const copy = Buffer.from(body);
      if (n < copy.length) copy[n] = byte;
      return { what: `byte ${n} set to ${byte}`, body: copy };
    }),
    fc
      .uint8Array({ minLength: 1, maxLength: 64 })
      .map((garbage) => ({ what: 'garbage appended', body: Buffer.concat([body, Buffer.from(garbage)]) })),
    fc.tuple(at, fc.constantFrom(...invalidUtf8)).map(([n, bad]) => ({
      what: `invalid UTF-8 ${bad.toString('hex')} at ${n}`,
      body: Buffer.concat([body.subarray(0, n), bad, body.subarray(n)]),
    })),
  );
}

interface Case {
  operation: string;
  what: string;
  body: Buffer;
}

/** A model-shaped input for a random operation, maybe with a hostile value somewhere, maybe mangled. */
function caseArb(wire: Wire): fc.Arbitrary<Case> {
  return fc
    .constantFrom(...operationNames)
    .chain((operation) => fc.tuple(fc.constant(operation), inputArb(operation, wire)))
    .chain(([operation, input]) => {
      const inputShape = shape(model.operations[operation]?.input ?? 'DescribeLimitsInput');
      const topLevel = Object.keys(inputShape.members ?? {}).map((name) => [name]);
      const paths = [...pathsOf(input), ...topLevel];
      const plain = fc.constant<Case>({ operation, what: 'model-shaped', body: encode(wire, input) });
      const hostile =
        paths.length === 0
          ? plain
          : fc.tuple(fc.constantFrom(...paths), hostileValue(wire)).map(([path, value]) => ({
              operation,
              what: `hostile value at ${path.join('.')}`,
              body: encode(wire, withValueAt(input, path, value)),
            }));
      const mangled = bodyMutation(encode(wire, input)).map(({ what, body }) => ({ operation, what, body }));
      return fc.oneof(
        { weight: 2, arbitrary: plain },
        { weight: 4, arbitrary: hostile },
        { weight: 3, arbitrary: mangled },
      );
    });
}

/** Throws (failing the property) when the answer is not well-formed. */
function expectWellFormed(answer: Answer, label: string): void {
  const problem = illFormed(answer);
  if (problem) throw new Error(`${label}: ${problem}\n  answer: ${describeAnswer(answer)}`);
}

function printable(body: Buffer): string {
  const text = body.subarray(0, 400).toString('latin1');
  return /^[\x20-\x7e]*$/.test(text) ? text : `hex ${body.subarray(0, 200).toString('hex')}`;
}

describe('fuzz: request bodies over JSON 1.1 and CBOR 1.1, every operation', { timeout: 300_000 }, () => {
  let server: ChildServer;
  let bystander: Bystander;
  /** A stream the generated requests never name (they use fuzzStreams, which they may delete). */
  const fixed = `fixed-${process.pid}`;
  const errorTypes = new Map<string, number>();
  const count = (answer: Answer) => {
    const key = `${answer.status} ${errorTypeOf(answer) ?? ''}`.trim();
    errorTypes.set(key, (errorTypes.get(key) ?? 0) + 1);
  };

  before(async () => {
    server = await startChildServer();
    for (const name of [...fuzzStreams, fixed]) {
      const created = await kinesisRaw(
        server.port,
        'CreateStream',
        JSON.stringify({ StreamName: name, ShardCount: 2 }),
      );
      assert.equal(created.status, 200, describeAnswer(created));
    }
    bystander = new Bystander(server.port);
    await bystander.start();
  });

  after(async () => {
    await bystander?.stop();
    bystander?.close();
    await server?.stop();
  });

  /** After every batch: the server answers, the bystander has seen no failure, nothing was a 500. */
  async function afterBatch(): Promise<void> {
    assert.equal(await stillServing(server), undefined);
    assert.deepEqual(bystander.report().failures, [], 'the well-behaved client kept succeeding');
    assert.deepEqual(internalErrors(server), [], 'no internal error was logged');
  }

  for (const [wire, seed] of [
    ['json', 1001],
    ['cbor', 1002],
  ] as const) {
    test(`${wire}: model-shaped inputs with hostile values and mangled bytes get well-formed answers`, async () => {
      await fc.assert(
        fc.asyncProperty(caseArb(wire), async (c) => {
          const answer = await kinesisRaw(server.port, c.operation, c.body, contentTypeOf(wire));
          count(answer);
          expectWellFormed(answer, `${c.operation} (${c.what}) body ${printable(c.body)}`);
        }),
        fuzzParameters(seed, 400),
      );
      await afterBatch();
    });

    test(`${wire}: garbage bodies get 400 SerializationException (or UnknownOperation for an empty one)`, async () => {
      const garbage = fc.oneof(
        fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
        fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s)),
        fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...operationNames), garbage, async (operation, body) => {
          const answer = await kinesisRaw(server.port, operation, body, contentTypeOf(wire));
          count(answer);
          expectWellFormed(answer, `${operation} body ${printable(body)}`);
        }),
        fuzzParameters(seed + 10, 200),
      );
      await afterBatch();
    });
  }

  test('HTTP/2: the same bodies, 16 at a time on one session, get well-formed answers', async () => {
    // The SDK's default handler multiplexes calls on one HTTP/2 session: hostile and valid requests
    // interleave as streams of the same connection.
    const h2 = new H2Client(server.port);
    const batchArb = fc.array(
      fc.constantFrom<Wire>('json', 'cbor').chain((wire) => caseArb(wire).map((c) => ({ wire, ...c }))),
      { minLength: 1, maxLength: 16 },
    );
    try {
      await fc.assert(
        fc.asyncProperty(batchArb, async (batch) => {
          const answers = await Promise.all(
            batch.map((c) =>
              retryShed(() =>
                h2.request(
                  {
                    ':method': 'POST',
                    ':path': '/',
                    'content-type': contentTypeOf(c.wire),
                    'x-amz-target': `${targetPrefix}${c.operation}`,
                    authorization: fixedAuthorization,
                    'x-amz-date': fixedDate,
                  },
                  c.body,
                ),
              ),
            ),
          );
          answers.forEach((answer, i) => {
            const c = batch[i] as (typeof batch)[number];
            count(answer);
            expectWellFormed(answer, `HTTP/2 ${c.wire} ${c.operation} (${c.what}) body ${printable(c.body)}`);
          });
        }),
        fuzzParameters(1003, 60),
      );
    } finally {
      h2.close();
    }
    await afterBatch();
  });

  test('every member of every operation’s input, given every wrong type: 400 SerializationException', async () => {
    const cases = wrongTypeCases();
    const failures: string[] = [];
    // A few at a time: thousands of cases in a few seconds, without a burst that trips admission.
    const queue = [...cases];
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          const answer = await kinesisRaw(
            server.port,
            c.operation,
            encode(c.wire, c.input),
            contentTypeOf(c.wire),
          );
          count(answer);
          const problem = illFormed(answer);
          const type = errorTypeOf(answer);
          if (problem || answer.status !== 400 || type !== 'SerializationException') {
            failures.push(
              `${c.wire} ${c.operation} ${c.path} = ${c.shown}: ${problem ?? describeAnswer(answer)}`,
            );
          }
        }
      }),
    );
    assert.ok(cases.length > 1000, `${cases.length} cases`);
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${cases.length} wrong-type cases`);
    await afterBatch();
  });

  test('100k-deep nesting, as the body and as a member: 400 SerializationException, no stack overflow', async () => {
    const depth = 100_000;
    const deepJson = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const deepObjects = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const jsonCases: Array<[string, string]> = [
      ['PutRecords', deepJson],
      ['PutRecords', `{"Records":${deepJson}}`],
      ['PutRecords', `{"Records":[{"Data":${deepObjects}}]}`],
      ['AddTagsToStream', `{"StreamName":"${fixed}","Tags":${deepObjects}}`],
      ['ListStreams', `{"Limit":${deepJson}}`],
      ['PutRecords', `{"Records":${'['.repeat(depth)}`], // never closed
    ];
    for (const [operation, body] of jsonCases) {
      const answer = await kinesisRaw(server.port, operation, body);
      expectWellFormed(answer, `JSON ${operation} ${body.slice(0, 40)}`);
      assert.equal(answer.status, 400, describeAnswer(answer));
      assert.equal(errorTypeOf(answer), 'SerializationException', `JSON ${operation} ${body.slice(0, 40)}`);
    }
    const cborCases: Array<[string, Buffer]> = [
      ['PutRecords', Buffer.concat([Buffer.alloc(depth, 0x81), Buffer.from([0x80])])],
      ['PutRecords', Buffer.concat([Buffer.alloc(depth, 0x9f), Buffer.alloc(depth, 0xff)])],
      [
        'PutRecords',
        Buffer.concat([cborBytes({ Records: new CborRaw(Buffer.alloc(depth, 0x81)) }), Buffer.from([0])]),
      ],
      [
        'AddTagsToStream',
        Buffer.concat([
          Buffer.from([0xa1, 0x64]),
          Buffer.from('Tags'),
          Buffer.alloc(depth, 0xa1),
          Buffer.from([0]),
        ]),
      ],
      ['PutRecord', Buffer.concat([Buffer.alloc(depth, 0xc1), Buffer.from([0])])], // tag inside tag
      ['PutRecords', Buffer.alloc(depth, 0x9f)], // never closed
    ];
    for (const [operation, body] of cborCases) {
      const answer = await kinesisRaw(server.port, operation, body, cborType);
      expectWellFormed(answer, `CBOR ${operation} ${body.subarray(0, 8).toString('hex')}`);
      assert.equal(answer.status, 400, describeAnswer(answer));
      assert.equal(errorTypeOf(answer), 'SerializationException', `CBOR ${operation}`);
    }
    await afterBatch();
  });

  test('huge and odd numbers where integers are expected: validated like numbers, never a 500', async () => {
    // Numbers saturate at the Java type's bounds (so 1e400 is 2147483647) and are then range-checked;
    // NaN-like strings are not numbers: SerializationException.
    const numbers: Array<[string, string, string]> = [
      ['1e400', 'fb7ff0000000000000', 'ValidationException'],
      ['-1e400', 'fbfff0000000000000', 'ValidationException'],
      ['18446744073709551616', 'c249010000000000000000', 'ValidationException'],
      ['18446744073709551615', '1bffffffffffffffff', 'ValidationException'],
      ['-0', 'f98000', 'ValidationException'],
      ['-9223372036854775809', '3b8000000000000000', 'ValidationException'],
      ['1e-400', 'fb0000000000000001', 'ValidationException'],
    ];
    for (const [json, cbor, expected] of numbers) {
      const jsonAnswer = await kinesisRaw(
        server.port,
        'DescribeStream',
        `{"StreamName":"${fixed}","Limit":${json}}`,
      );
      assert.equal(errorTypeOf(jsonAnswer), expected, `JSON Limit ${json}: ${describeAnswer(jsonAnswer)}`);
      const cborAnswer = await kinesisRaw(
        server.port,
        'DescribeStream',
        cborBytes({ StreamName: fixed, Limit: CborRaw.hex(cbor) }),
        cborType,
      );
      assert.equal(errorTypeOf(cborAnswer), expected, `CBOR Limit ${cbor}: ${describeAnswer(cborAnswer)}`);
    }
    for (const text of ['NaN', 'Infinity', '-Infinity', '1e400', '-0', '0x10', '']) {
      for (const wire of ['json', 'cbor'] as const) {
        const answer = await kinesisRaw(
          server.port,
          'DescribeStream',
          encode(wire, { StreamName: fixed, Limit: text }),
          contentTypeOf(wire),
        );
        assert.equal(
          errorTypeOf(answer),
          'SerializationException',
          `${wire} Limit "${text}": ${describeAnswer(answer)}`,
        );
      }
    }
    // Timestamps: whatever the answer, a well-formed one (1e400 seconds is no date).
    for (const [json, cbor] of numbers) {
      for (const operation of ['GetShardIterator', 'ListShards']) {
        const input =
          operation === 'GetShardIterator'
            ? { StreamName: fixed, ShardId: '0', ShardIteratorType: 'AT_TIMESTAMP' }
            : { StreamName: fixed, ShardFilter: { Type: 'AT_TIMESTAMP' } };
        const jsonInput =
          operation === 'GetShardIterator'
            ? { ...input, Timestamp: JsonRaw.of(json) }
            : {
                ...input,
                ShardFilter: { Type: 'AT_TIMESTAMP', Timestamp: JsonRaw.of(json) },
              };
        const cborInput =
          operation === 'GetShardIterator'
            ? { ...input, Timestamp: CborRaw.hex(`c1${cbor}`) }
            : {
                ...input,
                ShardFilter: { Type: 'AT_TIMESTAMP', Timestamp: CborRaw.hex(`c1${cbor}`) },
              };
        expectWellFormed(
          await kinesisRaw(server.port, operation, jsonBytes(jsonInput)),
          `JSON ${operation} ${json}`,
        );
        expectWellFormed(
          await kinesisRaw(server.port, operation, cborBytes(cborInput), cborType),
          `CBOR ${operation} ${cbor}`,
        );
      }
    }
    await afterBatch();
  });

  test('invalid UTF-8 in a CBOR text string: 400 SerializationException', async () => {
    for (const bad of invalidUtf8) {
      const key = new CborRaw(Buffer.concat([Buffer.from([0x60 + bad.length + 1, 0x61]), bad]));
      const answer = await kinesisRaw(
        server.port,
        'PutRecord',
        cborBytes({ StreamName: fixed, PartitionKey: key, Data: Buffer.from('x') }),
        cborType,
      );
      assert.equal(answer.status, 400, `${bad.toString('hex')}: ${describeAnswer(answer)}`);
      assert.equal(errorTypeOf(answer), 'SerializationException', bad.toString('hex'));
    }
  });

  test('invalid UTF-8 in a JSON string: 400 SerializationException, not a silently changed value', async () => {
    // JSON text must be UTF-8 (RFC 8259 section 8.1); the service's parser refuses other bytes, and the
    // CBOR path refuses them too. Decoding them to U+FFFD would store a partition key, a stream name or a
    // tag the client never sent.
    const failures: string[] = [];
    for (const bad of invalidUtf8) {
      const bodies: Array<[string, Buffer]> = [
        [
          'PutRecord',
          Buffer.concat([
            Buffer.from(`{"StreamName":"${fixed}","PartitionKey":"a`),
            bad,
            Buffer.from('","Data":"eA=="}'),
          ]),
        ],
        [
          'ListStreams',
          Buffer.concat([Buffer.from('{"ExclusiveStartStreamName":"'), bad, Buffer.from('"}')]),
        ],
        ['ListStreams', Buffer.concat([Buffer.from('{"Unknown'), bad, Buffer.from('":1}')])],
      ];
      for (const [operation, body] of bodies) {
        const answer = await kinesisRaw(server.port, operation, body);
        expectWellFormed(answer, `${operation} ${bad.toString('hex')}`);
        if (answer.status !== 400 || errorTypeOf(answer) !== 'SerializationException') {
          failures.push(`${operation} with ${bad.toString('hex')}: ${briefAnswer(answer)}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  test('every truncation of a valid PutRecords body: 400 SerializationException', async () => {
    const input = {
      StreamName: fixed,
      Records: [
        { PartitionKey: 'k1', Data: Buffer.from('first record'), ExplicitHashKey: '12345' },
        { PartitionKey: 'k2', Data: Buffer.from('second') },
      ],
    };
    for (const wire of ['json', 'cbor'] as const) {
      const whole = encode(wire, input);
      const ok = await kinesisRaw(server.port, 'PutRecords', whole, contentTypeOf(wire));
      assert.equal(ok.status, 200, describeAnswer(ok));
      const failures: string[] = [];
      for (let n = 0; n < whole.length; n++) {
        const answer = await kinesisRaw(server.port, 'PutRecords', whole.subarray(0, n), contentTypeOf(wire));
        if (answer.status !== 400 || errorTypeOf(answer) !== 'SerializationException') {
          failures.push(`${wire} cut at ${n}: ${describeAnswer(answer)}`);
        }
      }
      assert.deepEqual(failures, []);
    }
    await afterBatch();
  });

  test('the well-behaved client succeeded throughout and reads back every record it wrote', async (t) => {
    await bystander.stop();
    const report = bystander.report();
    t.diagnostic(
      `bystander: ${report.calls} PutRecords calls, ${report.acknowledged} records acknowledged, ${report.shed} answered 503 and retried`,
    );
    t.diagnostic(
      `fuzz requests answered 503 ServiceUnavailable and sent again: ${shedStats.retried} (given up: ${shedStats.gaveUp})`,
    );
    t.diagnostic(`answers seen: ${JSON.stringify(Object.fromEntries([...errorTypes].sort()))}`);
    assert.deepEqual(report.failures, []);
    assert.ok(report.acknowledged > 0);
    assert.deepEqual(await bystander.verify(), []);
    assert.equal(server.exited(), undefined, 'the server is still running');
    assert.deepEqual(internalErrors(server), []);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Wrong types, derived from the model

interface WrongTypeCase {
  wire: Wire;
  operation: string;
  path: string;
  shown: string;
  input: unknown;
}

/** A type-correct value of a shape with every member present (not necessarily valid): the base that
 * one wrong-typed member is put into. */
function sample(shapeName: string, wire: Wire): unknown {
  const def = shape(shapeName);
  switch (def.type) {
    case 'string':
      return def.enum?.[0] ?? 'x';
    case 'integer':
    case 'long':
      return 1;
    case 'boolean':
      return true;
    case 'blob':
      return wire === 'json' ? 'eA==' : Buffer.from('x');
    case 'timestamp':
      return wire === 'json' ? 1_700_000_000 : new Date(1_700_000_000_000);
    case 'list':
      return [sample(def.member ?? '', wire)];
    case 'map':
      return { k: sample(def.value ?? '', wire) };
    case 'structure':
      return Object.fromEntries(
        Object.entries(def.members ?? {}).map(([name, ref]) => [name, sample(ref.shape, wire)]),
      );
    default:
      throw new Error(def.type);
  }
}

/** Values of the wrong type for a shape, each of which the decoder must refuse. */
function wrongValues(def: ShapeDef, wire: Wire): unknown[] {
  const bytes = Buffer.from('bytes');
  const containers = [[], ['x'], {}, { a: 'b' }];
  switch (def.type) {
    case 'string':
      return [0, -1.5, true, ...containers, ...(wire === 'cbor' ? [bytes] : [])];
    case 'integer':
    case 'long':
      return ['1', 'x', true, ...containers, ...(wire === 'cbor' ? [bytes] : [])];
    case 'boolean':
      return [1, 0, 'maybe', 'tru', ...containers, ...(wire === 'cbor' ? [bytes] : [])];
    case 'blob':
      return [1, true, 'not base64!', 'eA=', 'eA=A', ...containers];
    case 'timestamp':
      return ['2020-01-01T00:00:00Z', 'x', true, ...containers, ...(wire === 'cbor' ? [bytes] : [])];
    case 'list':
      return ['x', 1, true, {}, { a: 'b' }, ...(wire === 'cbor' ? [bytes] : [])];
    case 'map':
    case 'structure':
      return ['x', 1, true, [], ['x'], ...(wire === 'cbor' ? [bytes] : [])];
    default:
      throw new Error(def.type);
  }
}

function wrongTypeCases(): WrongTypeCase[] {
  const cases: WrongTypeCase[] = [];
  for (const wire of ['json', 'cbor'] as const) {
    for (const [operation, { input }] of Object.entries(model.operations)) {
      if (!input) continue;
      const base = sample(input, wire);
      const visit = (shapeName: string, path: Array<string | number>, label: string) => {
        const def = shape(shapeName);
        if (path.length > 0) {
          for (const wrong of wrongValues(def, wire)) {
            cases.push({
              wire,
              operation,
              path: label,
              shown: Buffer.isBuffer(wrong) ? '<bytes>' : JSON.stringify(wrong),
              input: withValueAt(base, path, wrong),
            });
          }
        }
        if (def.type === 'structure') {
          for (const [name, ref] of Object.entries(def.members ?? {})) {
            visit(ref.shape, [...path, name], label ? `${label}.${name}` : name);
          }
        } else if (def.type === 'list') {
          visit(def.member ?? '', [...path, 0], `${label}[0]`);
        } else if (def.type === 'map') {
          visit(def.value ?? '', [...path, 'k'], `${label}.k`);
        }
      };
      visit(input, [], '');
    }
  }
  return cases;
}
