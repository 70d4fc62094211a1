import { messages } from '../engine/messages.js';
import { kinesis } from '../limits.js';
import { KinesisError } from '../protocol/errors.js';

/** What an injected error may say about the request it fails. */
export interface ErrorContext {
  operation: string;
  account: string;
  stream?: string;
  shardId?: string;
  /** When the shard iterator of a GetRecords was issued (ExpiredIteratorException). */
  iteratorIssuedMs?: number;
  nowMs: number;
}

export const internalFailureMessage =
  'The request processing has failed because of an unknown error, exception or failure.';

interface Known {
  status: number;
  message: (c: ErrorContext) => string;
  /** Where the wording comes from (docs/chaos.md repeats it). */
  source: string;
}

const writes = new Set(['PutRecord', 'PutRecords']);

/**
 * Errors a rule can inject by name, with the service's status and wording. The first five are
 * the ones AWS Fault Injection Service injects into Kinesis Data Streams calls
 * (`aws:fis:inject-api-internal-error`, `-throttle-error`, `-unavailable-error`,
 * `aws:kinesis:inject-api-provisioned-throughput-exception`, `-expired-iterator-exception`).
 */
export const knownErrors: Record<string, Known> = {
  InternalFailure: {
    status: 500,
    message: () => internalFailureMessage,
    source: 'AWS common errors (InternalFailure, HTTP 500); FIS aws:fis:inject-api-internal-error',
  },
  ThrottlingException: {
    status: 400,
    message: () => 'Rate exceeded',
    source: 'AWS common errors (ThrottlingException, HTTP 400); FIS aws:fis:inject-api-throttle-error',
  },
  ServiceUnavailable: {
    status: 503,
    message: () => 'The request has failed due to a temporary failure of the server.',
    source: 'AWS common errors (ServiceUnavailable, HTTP 503); FIS aws:fis:inject-api-unavailable-error',
  },
  ProvisionedThroughputExceededException: {
    status: 400,
    message: (c) => {
      const shard = c.shardId ?? 'shardId-000000000000';
      if (c.stream === undefined) return 'Rate exceeded';
      return writes.has(c.operation)
        ? messages.writeRateExceeded(shard, c.stream, c.account)
        : messages.readRateExceeded(c.account, c.stream, shard);
    },
    source:
      "the engine's own throttling messages (docs/kinesis-errors.md); FIS aws:kinesis:inject-api-provisioned-throughput-exception",
  },
  ExpiredIteratorException: {
    status: 400,
    message: (c) => {
      const issued = c.iteratorIssuedMs ?? c.nowMs - kinesis.iteratorTtlMs - 1_000;
      return messages.expiredIterator(issued, c.nowMs, kinesis.iteratorTtlMs);
    },
    source:
      "the engine's expiry message (docs/kinesis-errors.md); FIS aws:kinesis:inject-api-expired-iterator-exception",
  },
  LimitExceededException: {
    status: 400,
    message: (c) =>
      c.stream === undefined
        ? 'Rate exceeded'
        : `Rate exceeded for stream ${c.stream} under account ${c.account}.`,
    source: 'control-plane throttling as the service words it (docs/kinesis-errors.md)',
  },
  ResourceNotFoundException: {
    status: 400,
    message: (c) => messages.streamNotFound(c.stream ?? 'unknown', c.account),
    source: "the engine's not-found message",
  },
  ResourceInUseException: {
    status: 400,
    message: (c) => messages.streamNotActive(c.stream ?? 'unknown', c.account, 'UPDATING'),
    source: "the engine's not-active message",
  },
};

/** Exceptions a SubscribeToShard event stream may carry (the SubscribeToShardEventStream union). */
export const streamExceptions = new Set([
  'InternalFailureException',
  'ResourceNotFoundException',
  'ResourceInUseException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSAccessDeniedException',
  'KMSNotFoundException',
  'KMSOptInRequired',
  'KMSThrottlingException',
]);

const errorNamePattern = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

export interface ErrorSpec {
  error: string;
  message?: string;
  status?: number;
}

/** Check an error spec; unknown names need their own message. */
export function checkErrorSpec(spec: ErrorSpec, what: string): void {
  if (!errorNamePattern.test(spec.error)) throw new Error(`${what}: "${spec.error}" is not an error name`);
  if (!(spec.error in knownErrors) && spec.message === undefined) {
    throw new Error(
      `${what}: ${spec.error} is not one Sluice knows the wording of (${Object.keys(knownErrors).join(', ')}); give its "message"`,
    );
  }
  if (spec.message !== undefined && (typeof spec.message !== 'string' || spec.message.length > 1024)) {
    throw new Error(`${what}: message must be a string of at most 1024 characters`);
  }
  if (
    spec.status !== undefined &&
    !(Number.isInteger(spec.status) && spec.status >= 400 && spec.status <= 599)
  ) {
    throw new Error(`${what}: status must be an HTTP error status (400-599)`);
  }
}

export function buildError(spec: ErrorSpec, context: ErrorContext): KinesisError {
  const known = knownErrors[spec.error];
  return new KinesisError(
    spec.error,
    spec.message ?? known?.message(context) ?? '',
    spec.status ?? known?.status ?? 400,
  );
}
