import { randomBytes, randomUUID } from 'node:crypto';
import { operations } from '../api/operations.js';
import { decodeInput, knownOperations } from '../api/validation.js';
import type { Engine } from '../engine/engine.js';
import { server as bounds } from '../limits.js';
import { KinesisError } from '../protocol/errors.js';
import { encodeJson, jsonContentType } from '../protocol/json.js';
import type { Request, RequestHandler, Response } from './listener.js';

const targetPrefix = 'Kinesis_20131202.';
const modelOperations = new Set(knownOperations());

export interface HandlerOptions {
  engine: Engine;
  /** Called for every request that failed with a server-side fault (for logs). */
  onFault?: (error: unknown) => void;
}

/**
 * The request path after the listener: health, target routing, authentication presence,
 * body reading (bounded), wire decoding, validation, one engine call, and the response.
 */
export function createHandler(options: HandlerOptions): RequestHandler {
  return (req, res) => {
    const requestId = randomUUID();
    res.setHeader('x-amzn-RequestId', requestId);
    res.setHeader('x-amz-id-2', randomBytes(54).toString('base64'));
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/health/')) {
      send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
      return;
    }
    readBody(req, res, (body) => {
      handle(options, req, body).then(
        (output) => send(res, 200, jsonContentType, encodeJson(output)),
        (error: unknown) => {
          if (error instanceof KinesisError) {
            sendError(res, error);
          } else {
            options.onFault?.(error);
            sendError(
              res,
              new KinesisError(
                'InternalFailure',
                'The request processing has failed because of an unknown error, exception or failure.',
                500,
              ),
            );
          }
        },
      );
    });
  };
}

async function handle(options: HandlerOptions, req: Request, body: Buffer): Promise<unknown> {
  const target = header(req, 'x-amz-target');
  const operation = target?.startsWith(targetPrefix) ? target.slice(targetPrefix.length) : undefined;
  if (req.method !== 'POST' || operation === undefined || !modelOperations.has(operation)) {
    throw new KinesisError('UnknownOperationException', '', 400);
  }
  if (header(req, 'authorization') === undefined) {
    throw new KinesisError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
  }
  let parsed: unknown;
  try {
    parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new KinesisError('SerializationException', '', 400);
  }
  const decoded = decodeInput(operation, parsed, 'json');
  if (!decoded.ok) throw new KinesisError(decoded.error.name, decoded.error.message, 400);
  const run = operations[operation];
  if (!run) {
    throw new KinesisError(
      'UnknownOperationException',
      `Sluice does not implement ${operation} yet; see the compatibility table in its README.`,
      400,
    );
  }
  return run(options.engine, decoded.input);
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Read the request body, bounded in size and time; answers the request itself on failure. */
function readBody(req: Request, res: Response, done: (body: Buffer) => void): void {
  const declared = Number(header(req, 'content-length') ?? 0);
  if (declared > bounds.maxBodyBytes) {
    tooLarge(req, res);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const timer = setTimeout(() => {
    finished = true;
    sendError(res, new KinesisError('RequestTimeoutException', 'Request body was not received in time.', 408));
    req.destroy();
  }, bounds.bodyTimeoutMs);
  req.on('data', (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > bounds.maxBodyBytes) {
      finished = true;
      clearTimeout(timer);
      tooLarge(req, res);
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    clearTimeout(timer);
    if (finished) return;
    finished = true;
    done(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
  });
  req.on('error', () => {
    clearTimeout(timer);
    finished = true;
  });
}

function tooLarge(req: Request, res: Response): void {
  sendError(
    res,
    new KinesisError('SerializationException', `Request body exceeds the limit of ${bounds.maxBodyBytes} bytes.`, 413),
  );
  req.resume();
}

function sendError(res: Response, error: KinesisError): void {
  res.setHeader('x-amzn-ErrorType', error.type);
  const body: Record<string, string> = { __type: error.type };
  if (error.message) body.message = error.message;
  send(res, error.statusCode, jsonContentType, JSON.stringify(body));
}

function send(res: Response, status: number, contentType: string, body: string): void {
  if (res.headersSent || res.writableEnded) return;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}
