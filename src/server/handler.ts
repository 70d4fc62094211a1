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

/** An error answered as the service's XML body (what it sends outside the JSON protocol). */
class XmlError extends KinesisError {}

const contentTypes = new Set([jsonContentType, 'application/json']);

/**
 * The service's order of checks: method, content type, body, target, authentication, then the
 * model's type and constraint checks, then the operation.
 */
async function handle(options: HandlerOptions, req: Request, body: Buffer): Promise<unknown> {
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
  const contentType = (header(req, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const target = header(req, 'x-amz-target');
  const operation = target?.startsWith(targetPrefix) ? target.slice(targetPrefix.length) : undefined;
  const known = operation !== undefined && modelOperations.has(operation);
  if (!contentTypes.has(contentType)) {
    if (!signed)
      throw new XmlError('MissingAuthenticationTokenException', 'Missing Authentication Token', 403);
    throw new XmlError('UnknownOperationException', '', 404);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new KinesisError(
      body.length === 0 && !known ? 'UnknownOperationException' : 'SerializationException',
      '',
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new KinesisError('SerializationException', '');
  }
  if (!known || operation === undefined) throw new KinesisError('UnknownOperationException', '');
  const authProblem = checkAuthorizationHeader(req);
  if (authProblem) throw authProblem;
  const decoded = decodeInput(operation, parsed, 'json');
  if (!decoded.ok) throw new KinesisError(decoded.error.name, decoded.error.message);
  const run = operations[operation];
  if (!run) {
    throw new KinesisError(
      'UnknownOperationException',
      `Sluice does not implement ${operation} yet; see the compatibility table in its README.`,
    );
  }
  return run(options.engine, decoded.input);
}

/**
 * Signatures are not verified yet, but a request must carry a well-formed SigV4 Authorization
 * header, as the service requires before it looks at the signature.
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
    sendError(
      res,
      new KinesisError('RequestTimeoutException', 'Request body was not received in time.', 408),
    );
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
    new KinesisError(
      'SerializationException',
      `Request body exceeds the limit of ${bounds.maxBodyBytes} bytes.`,
      413,
    ),
  );
  req.resume();
}

function sendError(res: Response, error: KinesisError): void {
  res.setHeader('x-amzn-ErrorType', error.type);
  if (error instanceof XmlError) {
    const xml = error.message
      ? `<${error.type}>\n  <Message>${error.message}</Message>\n</${error.type}>\n`
      : `<${error.type}/>\n`;
    send(res, error.statusCode, undefined, xml);
    return;
  }
  const body: Record<string, string> = { __type: error.type };
  // The service writes `Message` for type errors it finds while reading the body.
  if (error.message) body[error.type === 'SerializationException' ? 'Message' : 'message'] = error.message;
  send(res, error.statusCode, jsonContentType, JSON.stringify(body));
}

function send(res: Response, status: number, contentType: string | undefined, body: string): void {
  if (res.headersSent || res.writableEnded) return;
  if (contentType) res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}
