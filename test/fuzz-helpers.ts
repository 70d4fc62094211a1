/**
 * Shared pieces of the fuzz tests (test/fuzz*.test.ts) and the overload test (test/overload.test.ts):
 * a `sluice serve` child process (a crash is an exit, not a dead test runner), hand-made HTTP/1.1 and
 * HTTP/2 clients that can send what real clients never send, the check that an answer is a well-formed
 * error, encoders that can write hostile JSON and CBOR, model-driven fast-check arbitraries, and a
 * well-behaved bystander client whose records must all read back.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { Decoder, type Options } from 'cbor-x';
import fc from 'fast-check';
import { kinesisClient, sleep } from './helpers.js';

// ---------------------------------------------------------------------------------------------------------
// The server under test, in its own process

/** The checkout: this file runs from dist/test/. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ChildServer {
  port: number;
  pid: number;
  /** Everything the server wrote to stderr (internal errors are logged there). */
  stderr(): string;
  /** The exit code or signal once it has exited, else undefined. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

/**
 * `sluice serve --memory --throughput unlimited` on a free port, in a child process. SLUICE_BIN names
 * another entry point (another build of the server, to compare).
 */
export async function startChildServer(extraArgs: string[] = []): Promise<ChildServer> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      process.env.SLUICE_BIN ?? join(repoRoot, 'bin', 'sluice.js'),
      'serve',
      '--port',
      '0',
      '--memory',
      '--throughput',
      'unlimited',
      '--create-stream-ms',
      '0',
      '--delete-stream-ms',
      '0',
      '--update-stream-ms',
      '0',
      ...extraArgs,
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  let exit: string | undefined;
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
  });
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sluice did not start: ${stdout}${stderr}`)), 20_000);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on http:\/\/[^:\s]+:(\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`sluice exited before listening: ${stdout}${stderr}`));
    });
  });
  return {
    port,
    pid: child.pid ?? 0,
    stderr: () => stderr,
    exited: () => exit,
    stop: async () => {
      if (exit !== undefined) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 8_000);
      await exitedPromise;
      clearTimeout(killer);
    },
  };
}

/** CPU seconds (user + system) a process has used, from /proc (Linux); undefined elsewhere. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Answers, and what makes one well-formed

export interface Answer {
  /** 0 when no response came (connection closed or stream reset; see `ended`). */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** How the exchange ended when there was no complete response. */
  ended?: string;
}

export const fixedAuthorization =
  'AWS4-HMAC-SHA256 Credential=AKIDSLUICEFUZZ/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000';
export const fixedDate = '20260101T000000Z';
export const targetPrefix = 'Kinesis_20131202.';
export const jsonType = 'application/x-amz-json-1.1';
export const cborType = 'application/x-amz-cbor-1.1';

/** Statuses an answer may have: success, the service's client errors, and admission's 503. */
export const allowedStatuses = new Set([200, 400, 403, 404, 413, 431, 503]);

// int64AsNumber: cbor-x cannot otherwise read tag 1 around a 64-bit integer (the epoch milliseconds
// of response timestamps), which is well-formed CBOR.
const cborDecoder = new Decoder({ mapsAsObjects: true, useRecords: false, int64AsNumber: true } as Options);

/** The `__type` of an error body in JSON or CBOR, or undefined when there is none. */
export function errorTypeOf(answer: Answer): string | undefined {
  const type = (answer.headers['content-type'] ?? '').toLowerCase();
  try {
    const parsed: unknown = type.startsWith(cborType)
      ? cborDecoder.decode(answer.body)
      : JSON.parse(answer.body.toString('utf8'));
    const value = (parsed as Record<string, unknown> | null)?.__type;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The service's XML error bodies, as the handler writes them. */
const xmlError = /^<([A-Za-z]+)\/>\n$|^<([A-Za-z]+)>\n {2}<Message>[^<]*<\/Message>\n<\/\2>\n$/;

export interface WellFormedOptions {
  /** A HEAD request: the answer has headers only. */
  head?: boolean;
  /**
   * The request broke HTTP itself (a bad method token, no Host, a header over the bound): Node's parser
   * may answer a bare 400 or 431 without a request id before the request reaches the handler.
   */
  httpMalformed?: boolean;
}

/**
 * Why an answer is not well-formed, or undefined when it is: an allowed status (never a 500), and
 * for errors a JSON or CBOR body with `__type` (matching `x-amzn-ErrorType`) or the service's XML.
 */
export function illFormed(answer: Answer, options: WellFormedOptions = {}): string | undefined {
  if (answer.status === 0) return `no answer (${answer.ended ?? 'unknown'})`;
  if (!allowedStatuses.has(answer.status)) return `status ${answer.status}`;
  const requestId = answer.headers['x-amzn-requestid'];
  if (requestId === undefined) {
    // Only Node's HTTP parser answers without a request id, and only for broken HTTP.
    if (options.httpMalformed && (answer.status === 400 || answer.status === 431)) return undefined;
    return `status ${answer.status} without x-amzn-RequestId`;
  }
  const type = (answer.headers['content-type'] ?? '').toLowerCase();
  if (options.head) return undefined;
  if (answer.status === 200) {
    if (type.startsWith(jsonType) || type.startsWith('application/json')) {
      try {
        JSON.parse(answer.body.toString('utf8'));
        return undefined;
      } catch {
        return 'a 200 whose JSON body does not parse';
      }
    }
    if (type.startsWith(cborType)) {
      try {
        cborDecoder.decode(answer.body);
        return undefined;
      } catch {
        return 'a 200 whose CBOR body does not parse';
      }
    }
    if (type.startsWith('text/plain')) return undefined; // /metrics
    return `a 200 with content type ${type || '(none)'}`;
  }
  const errorHeader = answer.headers['x-amzn-errortype'];
  if (type === '') {
    const text = answer.body.toString('utf8');
    const match = xmlError.exec(text);
    if (!match) return `status ${answer.status} with a body that is neither JSON, CBOR nor the XML form`;
    const name = match[1] ?? match[2];
    if (errorHeader !== name) return `XML error ${name} with x-amzn-ErrorType ${errorHeader}`;
    return undefined;
  }
  if (answer.status === 503 && type.startsWith('application/json')) {
    // /health while an alarm is raised: {"status": "overloaded", ...}
    return undefined;
  }
  const errorType = errorTypeOf(answer);
  if (errorType === undefined) return `status ${answer.status} without __type (${type})`;
  if (errorHeader !== errorType) return `__type ${errorType} but x-amzn-ErrorType ${errorHeader}`;
  return undefined;
}

/** Only tabs, line ends and printable ASCII. */
export function isPrintable(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!(code === 9 || code === 10 || code === 13 || (code >= 0x20 && code <= 0x7e))) return false;
  }
  return true;
}

/** Has a control character other than tab (what HTTP forbids in a field value). */
export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 9) || code === 0x7f) return true;
  }
  return false;
}

/** Status and `__type` only, for long lists of failures. */
export function briefAnswer(answer: Answer): string {
  return answer.status === 0
    ? `no answer (${answer.ended})`
    : `${answer.status} ${errorTypeOf(answer) ?? ''}`.trim();
}

/** A short, printable description of an answer for failure messages. */
export function describeAnswer(answer: Answer): string {
  const body = answer.body.subarray(0, 300);
  const text = isPrintable(body.toString('latin1'))
    ? JSON.stringify(body.toString('latin1'))
    : `hex ${body.toString('hex')}`;
  return `${answer.status || answer.ended} ${JSON.stringify(answer.headers)} ${text}`;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP/1.1 by hand

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const lines = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers };
}

/** Decodes a chunked body if it is complete, else undefined. */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = Number.parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (data.length < eol + 2 + size + 2) return undefined;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

export interface RawOptions {
  timeoutMs?: number;
  /** Half-close the socket after writing (for raw byte soups that are no request at all). */
  halfClose?: boolean;
  head?: boolean;
}

/**
 * Writes `request` on a new connection and reads the first final response (1xx are skipped), bounded
 * by a timeout. A connection closed without a response gives status 0 with `ended`.
 */
export function rawHttp1(port: number, request: Buffer | string, options: RawOptions = {}): Promise<Answer> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (answer: Answer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(
      () => finish({ status: 0, headers: {}, body: data, ended: `timeout after ${timeoutMs} ms` }),
      timeoutMs,
    );
    const tryParse = (closed: boolean) => {
      for (;;) {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) break;
        const { status, headers } = parseHead(data.subarray(0, end).toString('latin1'));
        const rest = data.subarray(end + 4);
        if (status >= 100 && status < 200) {
          data = rest;
          continue;
        }
        if (options.head || status === 204 || status === 304) {
          finish({ status, headers, body: Buffer.alloc(0) });
          return;
        }
        if (headers['content-length'] !== undefined) {
          const length = Number(headers['content-length']);
          if (rest.length >= length) finish({ status, headers, body: rest.subarray(0, length) });
          else if (closed) finish({ status, headers, body: rest, ended: 'closed inside the body' });
          return;
        }
        if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
          const body = dechunk(rest);
          if (body) finish({ status, headers, body });
          else if (closed) finish({ status, headers, body: rest, ended: 'closed inside the body' });
          return;
        }
        if (closed) finish({ status, headers, body: rest });
        return;
      }
      if (closed) finish({ status: 0, headers: {}, body: data, ended: 'closed without a response' });
    };
    socket.on('connect', () => {
      socket.write(request);
      if (options.halfClose) socket.end();
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      tryParse(false);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!done && data.length === 0) {
        finish({ status: 0, headers: {}, body: data, ended: `socket error ${error.code}` });
      }
    });
    socket.on('close', () => tryParse(true));
  });
}

/** An HTTP/1.1 request as bytes: request line, headers in order, body with its Content-Length. */
export function http1Request(
  method: string,
  path: string,
  headers: Array<[string, string]>,
  body: Buffer | string,
  options: { chunked?: boolean; version?: string } = {},
): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const lines = [`${method} ${path} ${options.version ?? 'HTTP/1.1'}`];
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  if (options.chunked) {
    lines.push('Transfer-Encoding: chunked');
    const chunked =
      payload.length === 0
        ? Buffer.from('0\r\n\r\n')
        : Buffer.concat([
            Buffer.from(`${payload.length.toString(16)}\r\n`),
            payload,
            Buffer.from('\r\n0\r\n\r\n'),
          ]);
    return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), chunked]);
  }
  lines.push(`Content-Length: ${payload.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

/** The headers a Kinesis client sends, for `operation` in `contentType`. */
export function kinesisHeaders(operation: string, contentType = jsonType): Array<[string, string]> {
  return [
    ['Host', '127.0.0.1'],
    ['Connection', 'close'],
    ['Content-Type', contentType],
    ['X-Amz-Target', `${targetPrefix}${operation}`],
    ['Authorization', fixedAuthorization],
    ['X-Amz-Date', fixedDate],
  ];
}

/** One Kinesis call over HTTP/1.1 with a body given as bytes (JSON or CBOR). */
export function kinesisRaw(
  port: number,
  operation: string,
  body: Buffer | string,
  contentType = jsonType,
  timeoutMs = 15_000,
): Promise<Answer> {
  return retryShed(() =>
    rawHttp1(port, http1Request('POST', '/', kinesisHeaders(operation, contentType), body), { timeoutMs }),
  );
}

/** 503 ServiceUnavailable answers retried, and retries given up (the last answer was still a 503). */
export const shedStats = { retried: 0, gaveUp: 0 };

/**
 * Sends again, with backoff, while the answer is admission control's 503 ServiceUnavailable (as the SDKs
 * do), for up to `maxMs`; then the last answer stands. The fuzzers test what the server says about an
 * input, not whether it was busy: on a shared machine the event-loop delay alarm can refuse everything
 * for seconds (see docs/overload.md). How often this happened is reported by the tests.
 */
export async function retryShed(
  send: () => Promise<Answer>,
  maxMs = 30_000,
  retryIf: (answer: Answer) => boolean = () => true,
): Promise<Answer> {
  const started = Date.now();
  let wait = 100;
  for (;;) {
    const answer = await send();
    if (answer.status !== 503 || errorTypeOf(answer) !== 'ServiceUnavailable' || !retryIf(answer))
      return answer;
    if (Date.now() - started > maxMs) {
      shedStats.gaveUp++;
      return answer;
    }
    shedStats.retried++;
    await sleep(wait);
    wait = Math.min(wait * 2, 2_000);
  }
}

// ---------------------------------------------------------------------------------------------------------
// HTTP/2 by hand

/** One HTTP/2 session to the server, reopened when a hostile request got it closed. */
export class H2Client {
  private session: http2.ClientHttp2Session | undefined;

  constructor(private readonly port: number) {}

  private open(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = http2.connect(`http://127.0.0.1:${this.port}`, {
      // Let the client send what the server must refuse.
      maxSendHeaderBlockLength: 64 * 1024 * 1024,
      maxHeaderListPairs: 100_000,
      peerMaxConcurrentStreams: 1000,
    });
    session.on('error', () => {});
    this.session = session;
    return session;
  }

  request(headers: http2.OutgoingHttpHeaders, body: Buffer | string, timeoutMs = 15_000): Promise<Answer> {
    return new Promise((resolve) => {
      const session = this.open();
      let stream: http2.ClientHttp2Stream;
      let done = false;
      const chunks: Buffer[] = [];
      let status = 0;
      let responseHeaders: Record<string, string> = {};
      const finish = (ended?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ status, headers: responseHeaders, body: Buffer.concat(chunks), ended });
      };
      const timer = setTimeout(() => {
        finish(`timeout after ${timeoutMs} ms`);
        stream?.close(http2.constants.NGHTTP2_CANCEL);
      }, timeoutMs);
      try {
        // endStream false: Node ends GET and HEAD streams at once otherwise, and the body write fails.
        stream = session.request(headers, { endStream: false });
      } catch (error) {
        done = true;
        clearTimeout(timer);
        resolve({ status: 0, headers: {}, body: Buffer.alloc(0), ended: `client refused: ${error}` });
        return;
      }
      stream.on('response', (h) => {
        status = Number(h[':status']);
        responseHeaders = Object.fromEntries(
          Object.entries(h)
            .filter(([name]) => !name.startsWith(':'))
            .map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value)]),
        );
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => finish(status === 0 ? 'stream ended without a response' : undefined));
      stream.on('close', () =>
        finish(status === 0 ? `stream closed with code ${stream.rstCode}` : 'closed inside the body'),
      );
      stream.on('error', () => {});
      stream.end(body);
    });
  }

  close(): void {
    this.session?.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Hostile encoders

/** Text put into a JSON document as it is (numbers JSON.stringify cannot write, broken bytes). */
export class JsonRaw {
  constructor(readonly bytes: Buffer) {}
  static of(text: string): JsonRaw {
    return new JsonRaw(Buffer.from(text, 'latin1'));
  }
}

/** JSON.stringify that also writes `JsonRaw` pieces and Buffers (as base64), for hostile documents. */
export function jsonBytes(value: unknown): Buffer {
  const parts: Buffer[] = [];
  const write = (v: unknown): void => {
    if (v instanceof JsonRaw) parts.push(v.bytes);
    else if (Buffer.isBuffer(v)) parts.push(Buffer.from(JSON.stringify(v.toString('base64'))));
    else if (v instanceof Date) parts.push(Buffer.from(String(v.getTime() / 1000)));
    else if (Array.isArray(v)) {
      parts.push(Buffer.from('['));
      v.forEach((element, i) => {
        if (i > 0) parts.push(Buffer.from(','));
        write(element);
      });
      parts.push(Buffer.from(']'));
    } else if (v !== null && typeof v === 'object') {
      parts.push(Buffer.from('{'));
      Object.entries(v).forEach(([key, member], i) => {
        if (i > 0) parts.push(Buffer.from(','));
        parts.push(Buffer.from(`${JSON.stringify(key)}:`));
        write(member);
      });
      parts.push(Buffer.from('}'));
    } else if (typeof v === 'bigint') parts.push(Buffer.from(v.toString()));
    else parts.push(Buffer.from(JSON.stringify(v) ?? 'null'));
  };
  write(value);
  return Buffer.concat(parts);
}

/** CBOR bytes put into a document as they are. */
export class CborRaw {
  constructor(readonly bytes: Buffer) {}
  static hex(hex: string): CborRaw {
    return new CborRaw(Buffer.from(hex.replace(/\s/g, ''), 'hex'));
  }
}

export function cborHead(major: number, length: number | bigint): Buffer {
  const type = major << 5;
  const n = BigInt(length);
  if (n < 24n) return Buffer.from([type | Number(n)]);
  if (n < 0x100n) return Buffer.from([type | 24, Number(n)]);
  if (n < 0x10000n) return Buffer.from([type | 25, Number(n >> 8n), Number(n & 0xffn)]);
  if (n < 0x100000000n) {
    const out = Buffer.alloc(5);
    out[0] = type | 26;
    out.writeUInt32BE(Number(n), 1);
    return out;
  }
  const out = Buffer.alloc(9);
  out[0] = type | 27;
  out.writeBigUInt64BE(BigInt.asUintN(64, n), 1);
  return out;
}

/**
 * A plain RFC 8949 encoder, independent of src/protocol/cbor.ts: maps and arrays definite-length,
 * Dates as tag 1 + epoch milliseconds (as the Java SDKs write them), integers in their shortest form,
 * other numbers as doubles, bigints beyond 64 bits as bignums, `CborRaw` as its bytes.
 */
export function cborBytes(value: unknown): Buffer {
  const parts: Buffer[] = [];
  const write = (v: unknown): void => {
    if (v instanceof CborRaw) parts.push(v.bytes);
    else if (v === null) parts.push(Buffer.from([0xf6]));
    else if (v === undefined) parts.push(Buffer.from([0xf7]));
    else if (v === false) parts.push(Buffer.from([0xf4]));
    else if (v === true) parts.push(Buffer.from([0xf5]));
    else if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        parts.push(v >= 0 ? cborHead(0, v) : cborHead(1, -1 - v));
      } else {
        const out = Buffer.alloc(9);
        out[0] = 0xfb;
        out.writeDoubleBE(v, 1);
        parts.push(out);
      }
    } else if (typeof v === 'bigint') {
      if (v >= 0n && v < 1n << 64n) parts.push(cborHead(0, v));
      else if (v < 0n && -1n - v < 1n << 64n) parts.push(cborHead(1, -1n - v));
      else {
        const magnitude = v >= 0n ? v : -1n - v;
        let hex = magnitude.toString(16);
        if (hex.length % 2) hex = `0${hex}`;
        const bytes = Buffer.from(hex, 'hex');
        parts.push(Buffer.from([v >= 0n ? 0xc2 : 0xc3]), cborHead(2, bytes.length), bytes);
      }
    } else if (typeof v === 'string') {
      const bytes = Buffer.from(v, 'utf8');
      parts.push(cborHead(3, bytes.length), bytes);
    } else if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
      parts.push(cborHead(2, v.length), Buffer.from(v));
    } else if (v instanceof Date) {
      parts.push(Buffer.from([0xc1]));
      write(v.getTime());
    } else if (Array.isArray(v)) {
      parts.push(cborHead(4, v.length));
      for (const element of v) write(element);
    } else if (typeof v === 'object') {
      const entries = Object.entries(v);
      parts.push(cborHead(5, entries.length));
      for (const [key, member] of entries) {
        write(key);
        write(member);
      }
    } else throw new TypeError(`cannot encode ${typeof v}`);
  };
  write(value);
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------
// The API model, and arbitraries driven by it

export type { MemberRef, ShapeDef } from '../src/api/validation.js';

import type { ShapeDef } from '../src/api/validation.js';

interface Model {
  operations: Record<string, { input?: string }>;
  shapes: Record<string, ShapeDef>;
}

export const model: Model = JSON.parse(
  readFileSync(join(repoRoot, 'src', 'api', 'model.generated.json'), 'utf8'),
) as Model;

export function shape(name: string): ShapeDef {
  const found = model.shapes[name];
  if (!found) throw new Error(`no shape ${name}`);
  return found;
}

export const operationNames = Object.keys(model.operations);

/** Stream names the fuzzers share, so that some generated requests find a stream and succeed. */
export const fuzzStreams = ['fz-a', 'fz-b', 'fz-c'];
const arnOf = (name: string) => `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`;

export type Wire = 'json' | 'cbor';

/** Hostile values put where any member is expected (wire-specific raw pieces included). */
export function hostileValue(wire: Wire): fc.Arbitrary<unknown> {
  const raw = (json: string, cbor: string) => (wire === 'json' ? JsonRaw.of(json) : CborRaw.hex(cbor));
  const deep = (depth: number) =>
    wire === 'json'
      ? JsonRaw.of(`${'['.repeat(depth)}${']'.repeat(depth)}`)
      : new CborRaw(Buffer.concat([Buffer.alloc(depth - 1, 0x81), Buffer.from([0x80])]));
  return fc.oneof(
    fc.constantFrom(
      raw('1e400', 'fb7ff0000000000000'), // +Infinity
      raw('-1e400', 'fbfff0000000000000'),
      raw('18446744073709551616', 'c249010000000000000000'), // 2^64
      raw('18446744073709551615', '1bffffffffffffffff'),
      raw('-18446744073709551617', 'c349010000000000000000'),
      raw('-0', 'f98000'),
      raw('1e-400', 'fb0000000000000001'),
      raw('123456789012345678901234567890e10', 'fa7fc00000'), // NaN (single precision)
      raw('0.1e-999999999', 'f97e00'), // NaN (half precision)
      raw('9007199254740993', '1b0020000000000001'), // 2^53 + 1
      raw('-9223372036854775809', '3b8000000000000000'), // -2^63 - 1
      raw('"\\ud800"', '63eda080'), // a lone surrogate (escaped; invalid UTF-8 in CBOR)
      raw('"\\u0000"', '6100'),
      'NaN',
      'Infinity',
      '-Infinity',
      '1e400',
      '-0',
      '',
      true,
      false,
      null,
      0,
      -1,
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 53,
      1.5,
      [],
      {},
      [null],
      { __proto__: null, constructor: 'x' },
    ),
    fc.constantFrom(100, 1_000, 100_000).map(deep),
    fc.string({ maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.integer(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    fc.constantFrom(1_000, 70_000).map((n) => 'x'.repeat(n)),
    fc.jsonValue({ maxDepth: 3 }),
  );
}

function stringArb(shapeDef: ShapeDef, memberName: string): fc.Arbitrary<string> {
  // Weighted towards values that pass validation, so that many requests reach the engine.
  const choices: Array<fc.WeightedArbitrary<string>> = [];
  const likely = (arbitrary: fc.Arbitrary<string>) => choices.push({ weight: 6, arbitrary });
  if (shapeDef.enum) likely(fc.constantFrom(...shapeDef.enum));
  if (/^(StreamName|ExclusiveStartStreamName)$/.test(memberName)) likely(fc.constantFrom(...fuzzStreams));
  if (/ARN$/.test(memberName)) likely(fc.constantFrom(...fuzzStreams.map(arnOf)));
  if (/Shard(Id|ToSplit|ToMerge)$|ShardToMerge$|ExclusiveStartShardId/.test(memberName)) {
    likely(fc.constantFrom('shardId-000000000000', 'shardId-000000000001', '0', '1'));
  }
  if (memberName === 'NewStartingHashKey' || memberName === 'ExplicitHashKey') {
    likely(fc.bigInt({ min: 0n, max: 2n ** 129n }).map(String));
  }
  if (shapeDef.pattern) {
    try {
      choices.push({ weight: 3, arbitrary: fc.stringMatching(new RegExp(`^(?:${shapeDef.pattern})$`)) });
    } catch {
      // a pattern fast-check cannot generate from: the other choices stand
    }
  }
  const max = Math.min(shapeDef.max ?? 64, 300);
  choices.push({ weight: 2, arbitrary: fc.string({ minLength: shapeDef.min ?? 0, maxLength: max }) });
  choices.push({ weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) });
  return fc.oneof(...choices);
}

function numberArb(shapeDef: ShapeDef): fc.Arbitrary<number> {
  const min = shapeDef.min ?? -(2 ** 31);
  const max = shapeDef.max ?? 2 ** 31 - 1;
  return fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31 - 1) }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 12 }) },
    { weight: 1, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.double({ noNaN: true }) },
  );
}

/**
 * Values of a shape as a client of `wire` would send them (blobs base64 in JSON, byte strings in CBOR;
 * timestamps epoch seconds in JSON, Dates for CBOR's tag 1), mostly valid, sometimes not.
 */
export function valueArb(shapeName: string, wire: Wire, memberName = ''): fc.Arbitrary<unknown> {
  const def = shape(shapeName);
  switch (def.type) {
    case 'string':
      return stringArb(def, memberName);
    case 'integer':
    case 'long':
    case 'float':
    case 'double':
      return numberArb(def);
    case 'boolean':
      return fc.boolean();
    case 'blob': {
      const bytes = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));
      return wire === 'json' ? bytes.map((b) => b.toString('base64')) : bytes;
    }
    case 'timestamp': {
      const seconds = fc.oneof(
        fc.integer({ min: 0, max: 2 ** 32 }),
        fc.double({ min: 0, max: 4e9, noNaN: true }),
      );
      return wire === 'json' ? seconds : seconds.map((s) => new Date(Math.round(s * 1000)));
    }
    case 'list':
      return fc.array(valueArb(def.member ?? '', wire, memberName), { maxLength: 5 });
    case 'map':
      return fc.dictionary(stringArb(shape(def.key ?? ''), ''), valueArb(def.value ?? '', wire, memberName), {
        maxKeys: 5,
      });
    case 'structure':
      return structureArb(shapeName, wire);
    default:
      throw new Error(`no arbitrary for ${def.type}`);
  }
}

function structureArb(shapeName: string, wire: Wire): fc.Arbitrary<Record<string, unknown>> {
  const def = shape(shapeName);
  const members = def.members ?? {};
  const arbs: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, ref] of Object.entries(members)) arbs[name] = valueArb(ref.shape, wire, name);
  const required = Object.entries(members)
    .filter(([, ref]) => ref.required)
    .map(([name]) => name);
  // One way of naming the stream (StreamName from the pool), as clients do: more requests get past
  // validation and the identifier checks to the engine.
  const oneName: Record<string, fc.Arbitrary<unknown>> = Object.fromEntries(
    Object.entries(arbs).filter(([name]) => required.includes(name) || !/^(StreamARN|StreamId)$/.test(name)),
  );
  return fc.oneof(
    { weight: 3, arbitrary: fc.record(arbs, { requiredKeys: required }) },
    { weight: 4, arbitrary: fc.record(oneName, { requiredKeys: required }) },
    { weight: 1, arbitrary: fc.record(arbs, { requiredKeys: [] }) },
  );
}

/** An operation's input, shaped by the model (mostly valid, sometimes missing members). */
export function inputArb(operation: string, wire: Wire): fc.Arbitrary<Record<string, unknown>> {
  const input = model.operations[operation]?.input;
  return input ? structureArb(input, wire) : fc.constant({});
}

/** Every place in a value a member can be replaced: paths of object keys and array indexes. */
export function pathsOf(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [];
  if (Array.isArray(value)) {
    value.forEach((element, i) => {
      out.push([...prefix, i], ...pathsOf(element, [...prefix, i]));
    });
  } else if (
    value !== null &&
    typeof value === 'object' &&
    !Buffer.isBuffer(value) &&
    !(value instanceof Date)
  ) {
    for (const [key, member] of Object.entries(value)) {
      out.push([...prefix, key], ...pathsOf(member, [...prefix, key]));
    }
  }
  return out;
}

/** A copy of `value` with the member at `path` set to `replacement`. */
export function withValueAt(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [step, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = [...value];
    copy[step as number] = withValueAt(copy[step as number], rest, replacement);
    return copy;
  }
  const copy = { ...(value as Record<string, unknown>) };
  copy[step as string] = withValueAt(copy[step as string], rest, replacement);
  return copy;
}

/** fast-check's run parameters for one property: a fixed seed unless SLUICE_FUZZ_SEED says otherwise. */
export function fuzzParameters(
  defaultSeed: number,
  defaultRuns: number,
): { seed: number; numRuns: number; endOnFailure: boolean; includeErrorInReport: boolean } {
  const seed = process.env.SLUICE_FUZZ_SEED ? Number(process.env.SLUICE_FUZZ_SEED) : defaultSeed;
  const scale = process.env.SLUICE_FUZZ_SCALE ? Number(process.env.SLUICE_FUZZ_SCALE) : 1;
  // Shrinking a counterexample against a live server can take long; SLUICE_FUZZ_SHRINK=1 turns it on.
  return {
    seed,
    numRuns: Math.max(1, Math.round(defaultRuns * scale)),
    endOnFailure: process.env.SLUICE_FUZZ_SHRINK !== '1',
    includeErrorInReport: true,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The bystander: a well-behaved client that must not notice the fuzzing

export interface BystanderReport {
  calls: number;
  failures: string[];
  acknowledged: number;
  /** 503s answered and retried. */
  shed: number;
}

/**
 * Writes small PutRecords batches in a loop with the AWS SDK (HTTP/2) while the fuzzers run; every
 * call must succeed, and `verify` reads every acknowledged record back.
 */
export class Bystander {
  readonly stream = `bystander-${process.pid}`;
  private readonly client: KinesisClient;
  private readonly acked = new Map<string, { shardId: string; data: string }>();
  private running = false;
  private loop: Promise<void> | undefined;
  readonly failures: string[] = [];
  calls = 0;

  constructor(port: number) {
    this.client = kinesisClient(port);
  }

  /** Every call is bounded in time: a hang is a failure, not a stuck test. */
  private get options(): { abortSignal: AbortSignal } {
    return { abortSignal: AbortSignal.timeout(15_000) };
  }

  async start(): Promise<void> {
    await this.retryShed(() =>
      this.client.send(new CreateStreamCommand({ StreamName: this.stream, ShardCount: 2 }), this.options),
    );
    for (;;) {
      const summary = await this.retryShed(() =>
        this.client.send(new DescribeStreamSummaryCommand({ StreamName: this.stream }), this.options),
      );
      if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
      await sleep(20);
    }
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let n = 0;
    while (this.running) {
      const records = Array.from({ length: 5 }, (_, i) => ({
        PartitionKey: `pk-${n}-${i}`,
        Data: Buffer.from(`bystander record ${n}.${i}`),
      }));
      n++;
      this.calls++;
      try {
        const out = await this.retryShed(() =>
          this.client.send(
            new PutRecordsCommand({ StreamName: this.stream, Records: records }),
            this.options,
          ),
        );
        if (out.FailedRecordCount)
          this.failures.push(`PutRecords ${n}: ${out.FailedRecordCount} records failed`);
        out.Records?.forEach((r, i) => {
          if (r.SequenceNumber && r.ShardId) {
            this.acked.set(`${r.ShardId}/${r.SequenceNumber}`, {
              shardId: r.ShardId,
              data: records[i]?.Data.toString() ?? '',
            });
          }
        });
      } catch (error) {
        this.failures.push(`PutRecords ${n}: ${(error as Error).name}: ${(error as Error).message}`);
      }
      await sleep(10);
    }
  }

  /** Calls answered 503 ServiceUnavailable and sent again (the SDK's retry, made explicit and counted). */
  shed = 0;

  private async retryShed<T>(call: () => Promise<T>): Promise<T> {
    const started = Date.now();
    let wait = 100;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status !== 503 || Date.now() - started > 30_000) throw error;
        this.shed++;
        await sleep(wait);
        wait = Math.min(wait * 2, 2_000);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  report(): BystanderReport {
    return {
      calls: this.calls,
      failures: [...this.failures],
      acknowledged: this.acked.size,
      shed: this.shed,
    };
  }

  /** Reads both shards from the start; returns what is missing, duplicated or different. */
  async verify(): Promise<string[]> {
    const problems: string[] = [];
    const seen = new Set<string>();
    const shards = await this.retryShed(() =>
      this.client.send(new ListShardsCommand({ StreamName: this.stream }), this.options),
    );
    for (const shard of shards.Shards ?? []) {
      const start = await this.retryShed(() =>
        this.client.send(
          new GetShardIteratorCommand({
            StreamName: this.stream,
            ShardId: shard.ShardId,
            ShardIteratorType: 'TRIM_HORIZON',
          }),
          this.options,
        ),
      );
      let iterator = start.ShardIterator;
      while (iterator) {
        const current = iterator;
        const page = await this.retryShed(() =>
          this.client.send(new GetRecordsCommand({ ShardIterator: current, Limit: 10_000 }), this.options),
        );
        for (const record of page.Records ?? []) {
          const key = `${shard.ShardId}/${record.SequenceNumber}`;
          if (seen.has(key)) problems.push(`read twice: ${key}`);
          seen.add(key);
          const expected = this.acked.get(key);
          const data = Buffer.from(record.Data ?? new Uint8Array()).toString();
          if (expected && expected.data !== data)
            problems.push(`${key}: read ${data}, wrote ${expected.data}`);
        }
        if ((page.Records ?? []).length === 0 && page.MillisBehindLatest === 0) break;
        iterator = page.NextShardIterator;
      }
    }
    for (const key of this.acked.keys())
      if (!seen.has(key)) problems.push(`acknowledged but not read: ${key}`);
    return problems;
  }

  close(): void {
    this.client.destroy();
  }
}

/** The server still answers a valid request (after a batch of hostile ones). */
export async function stillServing(server: ChildServer): Promise<string | undefined> {
  if (server.exited()) return `the server exited (${server.exited()}): ${server.stderr().slice(-2000)}`;
  const answer = await kinesisRaw(server.port, 'ListStreams', '{}');
  if (answer.status !== 200) return `a valid ListStreams got ${describeAnswer(answer)}`;
  return undefined;
}

/** Internal errors the server logged (the handler logs every 500 it answers). */
export function internalErrors(server: ChildServer): string[] {
  return server
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('internal error'));
}
