import { KinesisClient, type KinesisClientConfig } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type Sluice, type SluiceOptions, startSluice } from '../src/app.js';

// The SDK warns that releases after January 2027 need Node 22; the locked version runs on 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** Start Sluice in this process on a free loopback port with an in-memory store. */
export async function startTestServer(overrides: Partial<SluiceOptions> = {}): Promise<Sluice> {
  return startSluice({
    host: '127.0.0.1',
    port: 0,
    dataDir: '',
    memory: true,
    fsync: false,
    ...overrides,
    // Functional tests run without per-shard throughput limits (they call faster than 5 reads/s);
    // test/throughput.test.ts runs with the service's limits.
    engine: {
      createStreamMs: 0,
      deleteStreamMs: 0,
      updateStreamMs: 0,
      throughput: undefined,
      ...overrides.engine,
    },
  });
}

export const testCredentials = { accessKeyId: 'AKIDSLUICETEST', secretAccessKey: 'sluice-test-secret' };

/** The real AWS SDK v3 client; by default with its own HTTP/2 handler, or over HTTP/1.1. */
export function kinesisClient(
  port: number,
  options: { http1?: boolean } & KinesisClientConfig = {},
): KinesisClient {
  const { http1, ...config } = options;
  return new KinesisClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: testCredentials,
    maxAttempts: 1,
    ...(http1 ? { requestHandler: new NodeHttpHandler() } : {}),
    ...config,
  });
}

export interface RawResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

/** A hand-made JSON 1.1 request over HTTP/1.1, for protocol-level checks; a header given as null
 * is left out. */
export async function rawCall(
  port: number,
  operation: string | undefined,
  body: unknown,
  headers: Record<string, string | null> = {},
): Promise<RawResponse> {
  const all: Record<string, string | null> = {
    'Content-Type': 'application/x-amz-json-1.1',
    Authorization:
      'AWS4-HMAC-SHA256 Credential=AKIDSLUICETEST/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=00',
    'X-Amz-Date': '20260101T000000Z',
    ...(operation === undefined ? {} : { 'X-Amz-Target': `Kinesis_20131202.${operation}` }),
    ...headers,
  };
  const response = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== null)),
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // left empty: the caller asserts on text
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
