/**
 * Bad HTTP, generated: random methods, paths, X-Amz-Target values, content types, header sets (many
 * headers, oversized ones), framings (Content-Length, chunked, HTTP/1.0, 100-continue) over HTTP/1.1
 * on fresh connections, the same over HTTP/2 on a shared session, and byte soups that are no request
 * at all. Property: every request gets a well-formed answer within a client timeout (an allowed status,
 * never a 500, a `__type` body or the service's XML; a bare 400/431 from Node's parser only when the
 * HTTP itself is broken; an HTTP/2 stream reset only for header lists past the bounds), the server keeps
 * answering, and a concurrent well-behaved client keeps succeeding and reads back every record.
 *
 * Seeds are fixed (printed by fast-check on failure); SLUICE_FUZZ_SEED overrides every seed,
 * SLUICE_FUZZ_SCALE multiplies the number of runs, SLUICE_FUZZ_SHRINK=1 shrinks counterexamples.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { guard, server as serverLimits } from '../src/limits.js';
import {
  type Answer,
  Bystander,
  briefAnswer,
  type ChildServer,
  cborType,
  describeAnswer,
  errorTypeOf,
  fixedAuthorization,
  fixedDate,
  fuzzParameters,
  H2Client,
  hasControl,
  http1Request,
  illFormed,
  internalErrors,
  jsonType,
  kinesisHeaders,
  kinesisRaw,
  operationNames,
  rawHttp1,
  retryShed,
  shedStats,
  startChildServer,
  stillServing,
  targetPrefix,
} from './fuzz-helpers.js';
import { sleep } from './helpers.js';

/** Methods Node's HTTP/1.1 parser knows, less CONNECT (Node closes a CONNECT it has no handler for). */
const knownMethods = http.METHODS.filter((m) => m !== 'CONNECT');
/** Header names with a meaning to the HTTP layer itself: the generator sets those on purpose only. */
const framingHeaders =
  /^(content-length|transfer-encoding|host|connection|expect|upgrade|keep-alive|te|trailer|proxy-connection|http2-settings)$/i;
const visible = fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~'.split(''));

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,24}$/).filter((name) => !framingHeaders.test(name));
const safeValue = fc.string({ unit: visible, maxLength: 60 }).map((v) => v.trim());
/** Header values with bytes HTTP forbids (control characters). */
const unsafeValue = fc.string({ unit: 'binary-ascii', maxLength: 40 });

const targetArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...operationNames).map((op) => `${targetPrefix}${op}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...operationNames).map((op) => `${targetPrefix}${op.toLowerCase()}`),
  },
  {
    weight: 1,
    arbitrary: fc.string({ unit: visible, maxLength: 30 }).map((s) => `${targetPrefix}${s.trim()}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'Kinesis_20131202',
      'Kinesis_20131202.',
      'DynamoDB_20120810.ListTables',
      'kinesis_20131202.ListStreams',
      `${targetPrefix}ListStreams ${targetPrefix}ListStreams`,
    ),
  },
  { weight: 1, arbitrary: safeValue },
);

const contentTypeArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(jsonType, cborType) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json',
      'APPLICATION/X-AMZ-JSON-1.1',
      `${jsonType}; charset=utf-8`,
      ` ${cborType} ;q=1`,
      'application/x-amz-json-1.0',
      'application/cbor',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      ';',
      '',
    ),
  },
  { weight: 1, arbitrary: safeValue },
);

const bodyArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant(Buffer.from('{}')) },
  { weight: 2, arbitrary: fc.constant(Buffer.from([0xa0])) }, // an empty CBOR map
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
);

interface Envelope {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: Buffer;
  chunked: boolean;
  version: string;
  /** Some part may break HTTP itself: Node's parser may answer a bare 400 or 431. */
  malformed: boolean;
}

/** Present five times in six. */
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { freq: 6, nil: undefined });
/** Present once in `n`. */
const rarely = <T>(arb: fc.Arbitrary<T>, n: number) =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

const envelopeArb: fc.Arbitrary<Envelope> = fc
  .record({
    method: fc.oneof(
      { weight: 8, arbitrary: fc.constant('POST') },
      { weight: 3, arbitrary: fc.constantFrom(...knownMethods) },
      { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,10}$/) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 8 }) },
    ),
    path: fc.oneof(
      { weight: 6, arbitrary: fc.constant('/') },
      { weight: 2, arbitrary: fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '/health',
          '/metrics',
          '/?Action=ListStreams',
          '*',
          'http://127.0.0.1/',
          '//',
          '/%00',
          '/..%2f..%2f',
        ),
      },
      { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }).map((p) => `/${p}`) },
    ),
    target: optional(targetArb),
    contentType: optional(contentTypeArb),
    authorization: optional(
      fc.oneof(
        { weight: 5, arbitrary: fc.constant(fixedAuthorization) },
        { weight: 1, arbitrary: safeValue },
      ),
    ),
    date: optional(fc.constant(fixedDate)),
    host: fc.option(fc.constant('127.0.0.1'), { freq: 15, nil: undefined }),
    extra: fc.array(
      fc.tuple(token, fc.oneof({ weight: 60, arbitrary: safeValue }, { weight: 1, arbitrary: unsafeValue })),
      {
        maxLength: 12,
      },
    ),
    big: rarely(fc.integer({ min: 1_000, max: 40_000 }), 8),
    many: rarely(fc.integer({ min: 100, max: 2_500 }), 12),
    body: bodyArb,
    chunked: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
    version: fc.oneof(
      { weight: 12, arbitrary: fc.constant('HTTP/1.1') },
      { weight: 1, arbitrary: fc.constant('HTTP/1.0') },
    ),
    expect: rarely(fc.constant('100-continue'), 10),
  })
  .map((r) => {
    const headers: Array<[string, string]> = [];
    if (r.host !== undefined) headers.push(['Host', r.host]);
    headers.push(['Connection', 'close']);
    if (r.contentType !== undefined) headers.push(['Content-Type', r.contentType]);
    if (r.target !== undefined) headers.push(['X-Amz-Target', r.target]);
    if (r.authorization !== undefined) headers.push(['Authorization', r.authorization]);
    if (r.date !== undefined) headers.push(['X-Amz-Date', r.date]);
    if (r.expect !== undefined) headers.push(['Expect', r.expect]);
    headers.push(...r.extra);
    if (r.big !== undefined) headers.push(['X-Big', 'b'.repeat(r.big)]);
    if (r.many !== undefined) for (let i = 0; i < r.many; i++) headers.push([`X-Many-${i}`, 'm']);
    const unsafe = (s: string) => /[^\x20-\x7e\t]/.test(s);
    const malformed =
      !knownMethods.includes(r.method) ||
      /[^\x21-\x7e]/.test(r.path) ||
      r.host === undefined ||
      headers.some(([, value]) => unsafe(value)) ||
      (r.chunked && r.version === 'HTTP/1.0');
    return {
      method: r.method,
      path: r.path,
      headers,
      body: r.body,
      chunked: r.chunked,
      version: r.version,
      malformed,
    };
  });

/** What Node's parser counts against maxHeaderSize: the request line and header names and values
 * (separators and line ends are not counted). */
function headBytes(e: Pick<Envelope, 'method' | 'path' | 'headers'>): number {
  return (
    e.method.length +
    e.path.length +
    9 +
    e.headers.reduce((n, [name, value]) => n + name.length + value.length, 0)
  );
}

function describeEnvelope(e: Envelope): string {
  const headers = e.headers
    .filter(([name]) => !/^X-Many-/.test(name))
    .map(
      ([name, value]) =>
        `${name}: ${value.length > 60 ? `${value.slice(0, 20)}...(${value.length})` : value}`,
    );
  const many = e.headers.length - headers.length;
  return `${JSON.stringify(e.method)} ${JSON.stringify(e.path)} ${e.version}${e.chunked ? ' chunked' : ''} headers ${JSON.stringify(headers)}${many ? ` +${many} X-Many` : ''} body ${e.body.toString('hex').slice(0, 80)}`;
}

describe('fuzz: HTTP/1.1 and HTTP/2 envelopes, and byte soups', { timeout: 300_000 }, () => {
  let server: ChildServer;
  let bystander: Bystander;
  let h2: H2Client;
  const outcomes = new Map<string, number>();
  const count = (label: string, answer: Answer) => {
    const key =
      `${label} ${answer.status || answer.ended?.replace(/\d+/g, 'N')} ${errorTypeOf(answer) ?? ''}`.trim();
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  };

  before(async () => {
    server = await startChildServer();
    bystander = new Bystander(server.port);
    await bystander.start();
    h2 = new H2Client(server.port);
  });

  after(async () => {
    h2?.close();
    await bystander?.stop();
    bystander?.close();
    await server?.stop();
  });

  async function afterBatch(): Promise<void> {
    assert.equal(await stillServing(server), undefined);
    assert.deepEqual(bystander.report().failures, [], 'the well-behaved client kept succeeding');
    assert.deepEqual(internalErrors(server), [], 'no internal error was logged');
  }

  test('HTTP/1.1: random methods, paths, targets, content types and headers get well-formed answers', async () => {
    await fc.assert(
      fc.asyncProperty(envelopeArb, async (e) => {
        const size = headBytes(e);
        const request = http1Request(e.method, e.path, e.headers, e.body, {
          chunked: e.chunked,
          version: e.version,
        });
        const answer = await retryShed(() => rawHttp1(server.port, request, { head: e.method === 'HEAD' }));
        count('h1', answer);
        const problem = illFormed(answer, {
          head: e.method === 'HEAD',
          // Past ~16 KiB of head Node's parser answers 431 itself.
          httpMalformed: e.malformed || size > serverLimits.maxHeaderBytes - 512,
        });
        if (problem)
          throw new Error(
            `${problem}\n  request: ${describeEnvelope(e)}\n  answer: ${describeAnswer(answer)}`,
          );
        if (size > serverLimits.maxHeaderBytes + 512 && !e.malformed && answer.status !== 431) {
          throw new Error(
            `a ${size}-byte head got ${describeAnswer(answer)}, not 431\n  request: ${describeEnvelope(e)}`,
          );
        }
      }),
      fuzzParameters(2001, 800),
    );
    await afterBatch();
  });

  test('HTTP/2: random methods, paths, targets, content types and header lists get well-formed answers', async () => {
    const h2Envelope = envelopeArb.map((e) => ({
      ...e,
      // HTTP/2 has no Host, Connection or framing headers; names are lower case.
      headers: e.headers
        .filter(([name]) => !/^(host|connection|expect)$/i.test(name))
        .map(([name, value]): [string, string] => [name.toLowerCase(), value]),
    }));
    await fc.assert(
      fc.asyncProperty(h2Envelope, async (e) => {
        const headers: Record<string, string | string[]> = { ':method': e.method, ':path': e.path };
        for (const [name, value] of e.headers) {
          const existing = headers[name];
          headers[name] =
            existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
        }
        const answer = await retryShed(() =>
          h2.request(headers, e.method === 'GET' || e.method === 'HEAD' ? '' : e.body),
        );
        count('h2', answer);
        if (answer.ended?.startsWith('client refused')) return; // Node's client would not send it
        // nghttp2 resets a stream whose method is no token, whose path is not origin-form, or whose path
        // or header values have control characters (PROTOCOL_ERROR): a well-formed refusal.
        const broken =
          !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(e.method) ||
          /[^\x21-\x7e]/.test(e.path) ||
          !e.path.startsWith('/') || // HTTP/2 takes origin-form paths only (and * for OPTIONS)
          e.headers.some(([, value]) => hasControl(value));
        if (answer.status === 0 && broken) return;
        const listBytes = e.headers.reduce((n, [name, value]) => n + name.length + value.length + 32, 0);
        // Past the bounds (16 KiB as for HTTP/1.1; Node allows 128 header fields) a stream reset is a
        // well-formed refusal.
        const oversized = listBytes > serverLimits.maxHeaderBytes || e.headers.length > 120;
        if (answer.status === 0 && oversized) return;
        const problem = illFormed(answer, { head: e.method === 'HEAD', httpMalformed: false });
        if (problem)
          throw new Error(
            `${problem}\n  request: ${describeEnvelope(e)}\n  answer: ${describeAnswer(answer)}`,
          );
      }),
      fuzzParameters(2002, 800),
    );
    await afterBatch();
  });

  test('byte soups that are no request: answered or closed within the timeout, never a crash', async () => {
    const soup = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 600 }).map((b) => Buffer.from(b)),
      fc
        .tuple(fc.integer({ min: 1, max: 24 }), fc.uint8Array({ maxLength: 200 }))
        .map(([n, tail]) =>
          Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n').subarray(0, n), Buffer.from(tail)]),
        ),
      fc
        .tuple(
          fc.constantFrom(
            'POST / HTTP/1.1\r\n',
            'GET / HTTP/1.1\r\nHost: x\r\n',
            'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n',
          ),
          fc.uint8Array({ maxLength: 200 }),
        )
        .map(([start, tail]) => Buffer.concat([Buffer.from(start), Buffer.from(tail)])),
    );
    await fc.assert(
      fc.asyncProperty(soup, async (bytes) => {
        // The client half-closes after writing, so a server waiting for more must give up at once.
        const answer = await rawHttp1(server.port, bytes, { halfClose: true, timeoutMs: 15_000 });
        count('soup', answer);
        if (answer.ended?.startsWith('timeout'))
          throw new Error(`no answer and no close for ${bytes.toString('hex').slice(0, 200)}`);
        if (answer.status !== 0) {
          const problem = illFormed(answer, { httpMalformed: true });
          if (problem)
            throw new Error(
              `${problem}: ${describeAnswer(answer)} for ${bytes.toString('hex').slice(0, 200)}`,
            );
        }
      }),
      fuzzParameters(2003, 300),
    );
    await afterBatch();
  });

  test('HTTP/1.1: a header over 16 KiB is refused with 431, and the connection is closed', async () => {
    const headers = [
      ...kinesisHeaders('ListStreams'),
      ['X-Big', 'a'.repeat(serverLimits.maxHeaderBytes + 1)] as [string, string],
    ];
    const answer = await rawHttp1(server.port, http1Request('POST', '/', headers, '{}'));
    assert.equal(answer.status, 431, describeAnswer(answer));
    const many = [...kinesisHeaders('ListStreams')];
    for (let i = 0; i < 1_000; i++) many.push([`X-H${i}`, 'v']);
    const served = await rawHttp1(server.port, http1Request('POST', '/', many, '{}'));
    assert.equal(
      served.status,
      200,
      `1,000 small headers (${headBytes({ method: 'POST', path: '/', headers: many })} bytes) are within the bound: ${briefAnswer(served)}`,
    );
    await afterBatch();
  });

  test('HTTP/2: a header list over the 16 KiB bound is refused, as HTTP/1.1 refuses it', async () => {
    // HTTP/1.1 answers 431 past server.maxHeaderBytes; an HTTP/2 request with the same header list must be
    // refused too (a 431, or the stream reset), not served: the header list bound is what keeps a
    // request's memory small before admission control has seen it.
    const base = {
      ':method': 'POST',
      ':path': '/',
      'content-type': jsonType,
      'x-amz-target': `${targetPrefix}ListStreams`,
      authorization: fixedAuthorization,
      'x-amz-date': fixedDate,
    };
    const failures: string[] = [];
    for (const size of [serverLimits.maxHeaderBytes + 1, 32 * 1024, 60 * 1024]) {
      const answer = await h2.request({ ...base, 'x-big': 'a'.repeat(size) }, '{}');
      if (answer.status === 200) failures.push(`a ${size}-byte header was served: ${briefAnswer(answer)}`);
    }
    const spread = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-h${i}`, 'v'.repeat(400)]));
    const answer = await h2.request({ ...base, ...spread }, '{}');
    if (answer.status === 200)
      failures.push(`100 headers of 400 bytes (40 KB) were served: ${briefAnswer(answer)}`);
    // The session (or a new one) still serves a normal request afterwards.
    const normal = await h2.request(base, '{}');
    assert.equal(normal.status, 200, describeAnswer(normal));
    assert.deepEqual(failures, []);
  });

  test('HTTP/2: more header fields than the server takes: the stream is refused, the server goes on', async () => {
    const fields = Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`x-h${i}`, 'v']));
    const answer = await h2.request(
      {
        ':method': 'POST',
        ':path': '/',
        'content-type': jsonType,
        'x-amz-target': `${targetPrefix}ListStreams`,
        ...fields,
      },
      '{}',
    );
    assert.notEqual(answer.status, 200, describeAnswer(answer));
    if (answer.status !== 0) assert.equal(illFormed(answer), undefined, describeAnswer(answer));
    const normal = await h2.request(
      {
        ':method': 'POST',
        ':path': '/',
        'content-type': jsonType,
        'x-amz-target': `${targetPrefix}ListStreams`,
        authorization: fixedAuthorization,
        'x-amz-date': fixedDate,
      },
      '{}',
    );
    assert.equal(normal.status, 200, describeAnswer(normal));
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
    t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`);
    assert.deepEqual(report.failures, []);
    assert.ok(report.acknowledged > 0);
    assert.deepEqual(await bystander.verify(), []);
    assert.equal(server.exited(), undefined, 'the server is still running');
    assert.deepEqual(internalErrors(server), []);
  });
});

describe('admission: one client cannot lock the others out', { timeout: 120_000 }, () => {
  let server: ChildServer;
  before(async () => {
    server = await startChildServer();
  });
  after(async () => {
    await server?.stop();
  });

  test('a Content-Length no request may have is refused with 413, not a retryable 503', async () => {
    // Past server.maxBodyBytes (16 MiB) the answer is 413 whatever the size; one past the in-flight body
    // bound (guard.maxInFlightBodyBytes, 256 MiB) must not be answered "overloaded, retry": a client that
    // retries it is refused forever.
    const failures: string[] = [];
    for (const declared of [
      serverLimits.maxBodyBytes + 1,
      guard.maxInFlightBodyBytes,
      guard.maxInFlightBodyBytes + 1,
      2 ** 40,
    ]) {
      const head = `POST / HTTP/1.1\r\n${kinesisHeaders('PutRecord')
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('')}Content-Length: ${declared}\r\n\r\n{`;
      // Admission's 503s are retried for a while (a loaded machine can raise its alarms), except the one
      // this test is about.
      const answer = await retryShed(
        () => rawHttp1(server.port, head, { timeoutMs: 10_000 }),
        10_000,
        (a) => !a.body.toString().includes('in_flight_body_bytes'),
      );
      if (answer.status !== 413) failures.push(`Content-Length ${declared}: ${briefAnswer(answer)}`);
    }
    assert.deepEqual(failures, []);
  });

  test('slow uploads declaring the largest bodies do not lock every other client out', async () => {
    // Admission counts the declared Content-Length of requests in flight against
    // guard.maxInFlightBodyBytes (256 MiB). Sixteen connections that each declare 16 MiB (the largest body
    // allowed) and then send one byte hold the whole budget for up to server.bodyTimeoutMs (30 s), and
    // can do it again: meanwhile every other client, even one sending a 2-byte ListStreams, gets 503.
    // What the bound protects is memory, which these requests do not hold.
    const slow: net.Socket[] = [];
    const count = guard.maxInFlightBodyBytes / serverLimits.maxBodyBytes;
    try {
      for (let i = 0; i < count; i++) {
        const socket = net.connect(server.port, '127.0.0.1');
        socket.on('error', () => {});
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write(
          `POST / HTTP/1.1\r\n${kinesisHeaders('PutRecord')
            .map(([name, value]) => `${name}: ${value}\r\n`)
            .join('')}Content-Length: ${serverLimits.maxBodyBytes}\r\n\r\n{`,
        );
        slow.push(socket);
      }
      await sleep(300);
      const answers: string[] = [];
      for (let i = 0; i < 3; i++) {
        const answer = await retryShed(
          () => rawHttp1(server.port, http1Request('POST', '/', kinesisHeaders('ListStreams'), '{}')),
          10_000,
          (a) => !a.body.toString().includes('in_flight_body_bytes'),
        );
        answers.push(briefAnswer(answer));
        await sleep(500);
      }
      assert.deepEqual(
        answers,
        ['200', '200', '200'],
        `${count} slow uploads of ${serverLimits.maxBodyBytes} bytes declared`,
      );
    } finally {
      for (const socket of slow) socket.destroy();
    }
    await sleep(200);
    assert.equal(
      briefAnswer(await kinesisRaw(server.port, 'ListStreams', '{}')),
      '200',
      'served once they are gone',
    );
  });
});
