import { randomBytes, randomUUID } from 'node:crypto';
import { operations } from '../api/operations.js';
import { fastDecode, hasFastPath } from '../api/putrecords-fast.js';
import { type DecodeResult, decodeInput, knownOperations } from '../api/validation.js';
import type { Engine } from '../engine/engine.js';
import { server as bounds, guard as guardLimits } from '../limits.js';
import { codecFor, jsonCodec, type WireCodec } from '../protocol/codec.js';
import { KinesisError } from '../protocol/errors.js';
import { StoreUnavailableError } from '../store/store.js';
import type { Admission } from './admission.js';
import type { Request, RequestHandler, Response } from './listener.js';

const targetPrefix = 'Kinesis_20131202.';
const modelOperations = new Set(knownOperations());

/** What the path knows of a request once it is parsed: for authentication, faults, metrics. */
export interface RequestContext {
  requestId: string;
  operation: string;
  /** Access key id named in the Authorization header's Credential, if any. */
  accessKeyId?: string;
  userAgent?: string;
  sourceAddress?: string;
  /** The decoded, validated input (empty until validation has run). */
  input: Record<string, unknown>;
  /** Set by signature verification: who signed the request. */
  principal?: unknown;
  req: Request;
  /** The raw body, for signature verification; emptied once the input is decoded, so a large
   * PutRecords body is not held while the records are stored (peak memory). */
  body: Buffer;
}

/**
 * An operation's answer that is a stream of events rather than one body (SubscribeToShard): the
 * handler hands it the response once headers may be written.
 */
export interface StreamingOutput {
  streaming: true;
  start(res: Response, codec: WireCodec): void;
}

export function isStreaming(output: unknown): output is StreamingOutput {
  return typeof output === 'object' && output !== null && (output as StreamingOutput).streaming === true;
}

/** What fault injection (src/chaos) decides for a request once it is parsed and authenticated. */
export interface FaultDecision {
  /** Wait this long before going on (added latency). */
  delayMs?: number;
  /** Answer this error instead of running the operation. */
  error?: KinesisError;
  /** Reset the connection, or never answer (the client gives up). */
  drop?: 'reset' | 'hang';
  /** Change the operation's answer (in-place PutRecords failures, a subscription cut short). */
  mapOutput?: (output: unknown) => unknown;
}

/** How a request ended, for metrics and the dependents map. */
export interface Outcome {
  context: RequestContext | undefined;
  operation: string | undefined;
  /** Who sent it, also for requests refused before they were parsed. */
  accessKeyId?: string;
  userAgent?: string;
  sourceAddress?: string;
  status: number;
  /** The error type answered, if any; `NoResponse` (status 0) when the request was dropped. */
  errorType?: string;
  durationMs: number;
}

export interface HandlerOptions {
  engine: Engine;
  /**
   * Signature verification, once the target is known and before the input is validated (the
   * service's order); it may note the verified principal on the context (`principal`). Without
   * it, only the Authorization header's presence and form are checked.
   */
  verifySignature?: (context: RequestContext) => Promise<KinesisError | undefined>;
  /** Authorization, after validation (policies need the stream the input names). */
  authenticate?: (context: RequestContext) => Promise<KinesisError | undefined>;
  /** Admission control: refuse before reading the body when over a bound. */
  admission?: Admission;
  /** Fault injection: consulted after authentication, before the operation. */
  faults?: (context: RequestContext) => FaultDecision | undefined;
  /** Told how every request ended. */
  onAnswered?: (outcome: Outcome) => void;
  /** `/health` and `/metrics`: resource readings and the Prometheus registry. */
  health?: () => { healthy: boolean; body: unknown };
  metricsText?: () => Promise<{ contentType: string; body: string }>;
  /** Called for every request that failed with a server-side fault (for logs). */
  onFault?: (error: unknown) => void;
  /** The store is known to be unreachable: the error to answer at once (before the operation runs,
   * rather than from a view that may be stale). */
  storeUnavailable?: () => KinesisError | undefined;
}

/**
 * `x-amz-id-2`: an opaque id of 72 bytes in base64, as the service sends. A random prefix per
 * process and a counter make it unique without drawing random bytes for every request (which
 * showed in the profile of the overload path).
 */
const hostIdPrefix = randomBytes(64);
let hostIdCounter = 0n;
function nextHostId(): string {
  const id = Buffer.alloc(72);
  hostIdPrefix.copy(id);
  id.writeBigUInt64BE(hostIdCounter++, 64);
  return id.toString('base64');
}

const internalFailure = () =>
  new KinesisError(
    'InternalFailure',
    'The request processing has failed because of an unknown error, exception or failure.',
    500,
  );

/** The answer of overload and of a missed deadline: 503, which the SDKs retry with backoff. */
const serviceUnavailable = (message: string) => new KinesisError('ServiceUnavailable', message, 503);

const emptyBody = Buffer.alloc(0);

/** Thrown to leave a request unanswered (an injected hang or reset). */
class Dropped extends Error {}

/**
 * The request path after the listener: health and metrics, admission (before the body is read),
 * body reading (bounded), the service's checks in its order, wire decoding, validation,
 * authentication, fault injection, one engine call within a deadline, and the response.
 */
export function createHandler(options: HandlerOptions): RequestHandler {
  return (req, res) => {
    const startedMs = performance.now();
    const requestId = randomUUID();
    res.setHeader('x-amzn-RequestId', requestId);
    res.setHeader('x-amz-id-2', nextHostId());
    if (req.method === 'GET' && serveAdmin(options, req.url ?? '', res)) return;
    const codec = codecFor(contentTypeOf(req)) ?? jsonCodec;
    const declared = Number(header(req, 'content-length') ?? 0) || 0;
    const holder: { context?: RequestContext; answered?: () => boolean } = {
      answered: () => res.writableEnded || res.headersSent,
    };
    res.once('finish', () => {
      // A stream destroyed without an answer (reset, client gone) still emits finish.
      const answered = res.headersSent;
      options.onAnswered?.({
        context: holder.context,
        operation: holder.context?.operation ?? operationOf(req),
        accessKeyId: accessKeyIdOf(req),
        userAgent: header(req, 'user-agent'),
        sourceAddress: req.socket?.remoteAddress,
        status: answered ? res.statusCode : 0,
        errorType: !answered
          ? 'NoResponse'
          : res.statusCode >= 400
            ? String(res.getHeader('x-amzn-ErrorType') ?? '')
            : undefined,
        durationMs: performance.now() - startedMs,
      });
    });
    // A body no request may have is refused as such (not retryable), before admission.
    if (declared > bounds.maxBodyBytes) {
      tooLarge(req, res, codec);
      return;
    }
    const refused = options.admission?.refuse(Date.now(), isWrite(req));
    if (refused) {
      // A store that cannot be reached also backs appends up: say so rather than "overloaded".
      const why =
        options.storeUnavailable?.() ??
        serviceUnavailable(`Sluice is overloaded (${refused}); retry with backoff.`);
      sendError(res, codec, why);
      req.resume();
      return;
    }
    const ticket = options.admission?.enter();
    if (ticket) {
      res.once('close', ticket.leave);
      res.once('finish', ticket.leave);
    }
    readBody(req, res, codec, declared, ticket?.received, (body) => {
      let streaming = false;
      const deadline = setTimeout(() => {
        if (!streaming)
          sendError(res, codec, serviceUnavailable('The request did not complete within its deadline.'));
      }, options.admission?.limits.requestDeadlineMs ?? guardLimits.requestDeadlineMs);
      handle(options, req, body, requestId, holder).then(
        (output) => {
          clearTimeout(deadline);
          if (isStreaming(output)) {
            streaming = true;
            output.start(res, codec);
          } else send(res, 200, codec.responseContentType, codec.encode(output));
        },
        (error: unknown) => {
          if (error instanceof Dropped) {
            clearTimeout(deadline);
            return;
          }
          clearTimeout(deadline);
          if (error instanceof KinesisError) {
            sendError(res, codec, error);
          } else if (error instanceof StoreUnavailableError) {
            // The store went away during the operation: retryable, and saying so.
            sendError(res, codec, serviceUnavailable(error.message));
          } else {
            options.onFault?.(error);
            sendError(res, codec, internalFailure());
          }
        },
      );
    });
  };
}

/** `/health` and `/metrics`: answered without touching the store or the request path. */
function serveAdmin(options: HandlerOptions, url: string, res: Response): boolean {
  const path = url.split('?')[0]?.replace(/\/$/, '');
  if (path === '/health') {
    const health = options.health?.() ?? { healthy: true, body: { status: 'ok' } };
    send(res, health.healthy ? 200 : 503, 'application/json', JSON.stringify(health.body));
    return true;
  }
  if (path === '/metrics' && options.metricsText) {
    options.metricsText().then(
      ({ contentType, body }) => send(res, 200, contentType, body),
      () => send(res, 500, 'text/plain', 'metrics unavailable\n'),
    );
    return true;
  }
  return false;
}

function accessKeyIdOf(req: Request): string | undefined {
  return /Credential=([^/,\s]+)/.exec(header(req, 'authorization') ?? '')?.[1];
}

function operationOf(req: Request): string | undefined {
  const target = header(req, 'x-amz-target');
  return target?.startsWith(targetPrefix) ? target.slice(targetPrefix.length) : undefined;
}

/** An error answered as the service's XML body (what it sends outside the JSON protocol). */
class XmlError extends KinesisError {}

function contentTypeOf(req: Request): string {
  return (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * The service's order of checks: method, content type, body, target, authentication, then the
 * model's type and constraint checks, then the operation.
 */
async function handle(
  options: HandlerOptions,
  req: Request,
  body: Buffer,
  requestId: string,
  holder: { context?: RequestContext; answered?: () => boolean },
): Promise<unknown> {
  const signed = header(req, 'authorization') !== undefined;
  if (req.method !== 'POST') {
    throw signed
      ? new XmlError(
          'AccessDeniedException',
          'Unable to determine service/operation name to be authorized',
          403,
        )
      : new XmlError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
  }
  const target = header(req, 'x-amz-target');
  const operation = target?.startsWith(targetPrefix) ? target.slice(targetPrefix.length) : undefined;
  const known = operation !== undefined && modelOperations.has(operation);
  const codec = codecFor(contentTypeOf(req));
  if (!codec) {
    if (!signed)
      throw new XmlError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
    throw new XmlError('UnknownOperationException', '', 404);
  }
  // PutRecords and PutRecord on the JSON wire: a scanner over the body's bytes gives the decoded
  // input of a plain, valid body at once; anything else (undefined) takes the generic path.
  const fast =
    known && codec.wire === 'json' && hasFastPath(operation) ? fastDecode(operation, body) : undefined;
  let parsed: unknown;
  if (fast === undefined) {
    try {
      parsed = codec.parse(body);
    } catch {
      throw new KinesisError(
        body.length === 0 && !known ? 'UnknownOperationException' : 'SerializationException',
        '',
      );
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || Buffer.isBuffer(parsed)) {
      throw new KinesisError('SerializationException', '');
    }
  }
  if (!known || operation === undefined) throw new KinesisError('UnknownOperationException', '');
  const authProblem = checkAuthorizationHeader(req);
  if (authProblem) throw authProblem;
  const context: RequestContext = {
    requestId,
    operation,
    accessKeyId: accessKeyIdOf(req),
    userAgent: header(req, 'user-agent'),
    sourceAddress: req.socket?.remoteAddress,
    input: {},
    req,
    body,
  };
  holder.context = context;
  // The service checks the signature before the input, and the policy after it.
  if (options.verifySignature) {
    const refused = await options.verifySignature(context);
    if (refused) throw refused;
  }
  const decoded: DecodeResult =
    fast !== undefined ? { ok: true, input: fast } : decodeInput(operation, parsed, codec.wire);
  if (!decoded.ok) throw new KinesisError(decoded.error.name, decoded.error.message);
  context.input = decoded.input;
  context.body = emptyBody;
  if (options.authenticate) {
    const denied = await options.authenticate(context);
    if (denied) throw denied;
  }
  const fault = options.faults?.(context);
  if (fault?.delayMs) {
    await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    // Answered meanwhile (the deadline's 503, or the client left): do not run the operation.
    if (holder.answered?.()) throw new Dropped();
  }
  if (fault?.drop === 'reset') {
    req.socket?.destroy();
    throw new Dropped();
  }
  if (fault?.drop === 'hang') throw new Dropped();
  if (fault?.error) throw fault.error;
  const unavailable = options.storeUnavailable?.();
  if (unavailable) throw unavailable;
  const run = operations[operation];
  if (!run) {
    throw new KinesisError(
      'UnknownOperationException',
      `Sluice does not implement ${operation} yet; see the compatibility table in its README.`,
    );
  }
  const output = await run(options.engine, decoded.input);
  return fault?.mapOutput ? fault.mapOutput(output) : output;
}

/**
 * Signatures are verified only with authentication on, but a request must always carry a
 * well-formed SigV4 Authorization header, as the service requires before it looks at the signature.
 */
function checkAuthorizationHeader(req: Request): KinesisError | undefined {
  const value = header(req, 'authorization');
  if (value === undefined) {
    return new KinesisError('MissingAuthenticationTokenException', 'Missing Authentication Token');
  }
  const params = new Set(
    value
      .split(/[\s,]+/)
      .slice(1)
      .map((part) => part.split('=')[0]),
  );
  let message = '';
  for (const name of ['Credential', 'Signature', 'SignedHeaders']) {
    if (!params.has(name)) message += `Authorization header requires '${name}' parameter. `;
  }
  if (header(req, 'x-amz-date') === undefined && header(req, 'date') === undefined) {
    message += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
  }
  return message
    ? new KinesisError('IncompleteSignatureException', `${message}Authorization=${value}`)
    : undefined;
}

/** PutRecord and PutRecords, told from the target header before the body is read (admission). */
function isWrite(req: Request): boolean {
  const target = header(req, 'x-amz-target') ?? '';
  return target.endsWith('.PutRecords') || target.endsWith('.PutRecord');
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Read the request body, bounded in size and time; answers the request itself on failure. A body
 * with a declared length is collected in chunks until `server.bodyReserveShare` of it arrived,
 * then moved into one buffer of the declared length that takes the rest as it comes (each chunk
 * garbage at once, where joining all chunks at the end held the body twice). `received` counts
 * what is held: the bytes received, then the whole reserved buffer; a body longer than declared
 * goes back to collecting chunks.
 */
function readBody(
  req: Request,
  res: Response,
  codec: WireCodec,
  declared: number,
  received: ((bytes: number) => void) | undefined,
  done: (body: Buffer) => void,
): void {
  let whole: Buffer | undefined;
  let reserve =
    declared > 0 ? Math.max(1, Math.ceil(declared * bounds.bodyReserveShare)) : Number.POSITIVE_INFINITY;
  let chunks: Buffer[] = [];
  let size = 0;
  let counted = 0;
  let finished = false;
  const hold = (bytes: number): void => {
    if (bytes > counted) {
      received?.(bytes - counted);
      counted = bytes;
    }
  };
  const timer = setTimeout(() => {
    finished = true;
    sendError(
      res,
      codec,
      new KinesisError('RequestTimeoutException', 'Request body was not received in time.', 408),
    );
    req.destroy();
  }, bounds.bodyTimeoutMs);
  req.on('data', (chunk: Buffer) => {
    if (finished) return;
    if (size + chunk.length > bounds.maxBodyBytes) {
      finished = true;
      clearTimeout(timer);
      tooLarge(req, res, codec);
      return;
    }
    if (whole && size + chunk.length <= whole.length) {
      chunk.copy(whole, size);
    } else {
      if (whole) {
        chunks = [whole.subarray(0, size)];
        whole = undefined;
      }
      chunks.push(chunk);
      if (size + chunk.length >= reserve && size + chunk.length <= declared) {
        reserve = Number.POSITIVE_INFINITY;
        whole = Buffer.allocUnsafe(declared);
        let offset = 0;
        for (const part of chunks) offset += part.copy(whole, offset);
        chunks = [];
        hold(declared);
      }
    }
    size += chunk.length;
    hold(size);
  });
  req.on('end', () => {
    clearTimeout(timer);
    if (finished) return;
    finished = true;
    if (whole) done(size === whole.length ? whole : whole.subarray(0, size));
    else done(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
  });
  req.on('error', () => {
    clearTimeout(timer);
    finished = true;
  });
}

function tooLarge(req: Request, res: Response, codec: WireCodec): void {
  sendError(
    res,
    codec,
    new KinesisError(
      'SerializationException',
      `Request body exceeds the limit of ${bounds.maxBodyBytes} bytes.`,
      413,
    ),
  );
  req.resume();
}

function sendError(res: Response, codec: WireCodec, error: KinesisError): void {
  res.setHeader('x-amzn-ErrorType', error.type);
  if (error instanceof XmlError) {
    const xml = error.message
      ? `<${error.type}>\n  <Message>${error.message}</Message>\n</${error.type}>\n`
      : `<${error.type}/>\n`;
    send(res, error.statusCode, undefined, xml);
    return;
  }
  // The service writes `Message` for type errors it finds while reading the body.
  const key = error.type === 'SerializationException' ? 'Message' : 'message';
  send(
    res,
    error.statusCode,
    codec.responseContentType,
    codec.encodeError(error.type, error.message || undefined, key),
  );
}

function send(res: Response, status: number, contentType: string | undefined, body: Buffer | string): void {
  if (res.headersSent || res.writableEnded) return;
  if (contentType) res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}
