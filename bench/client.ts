/**
 * A light, hand-signed Kinesis JSON 1.1 client for the benchmarks: plain node:http with a
 * keep-alive Agent and a fixed, well-formed SigV4-shaped Authorization header (the servers
 * measured do not verify signatures by default). It spends far less CPU per call than the AWS
 * SDK, so the load generator is not what limits the server.
 */
import http from 'node:http';

export const authorization =
  'AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000';

export interface Reply {
  status: number;
  body: Buffer;
}

export class KinesisHttp {
  readonly agent: http.Agent;
  readonly host: string;
  readonly port: number;

  constructor(
    url: string,
    maxSockets: number,
    private readonly timeoutMs = 60_000,
  ) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** One request; resolves with the status and the whole body, rejects on a network error. */
  call(operation: string, body: string | Buffer): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          method: 'POST',
          path: '/',
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: {
            'content-type': 'application/x-amz-json-1.1',
            'x-amz-target': `Kinesis_20131202.${operation}`,
            'x-amz-date': '20260101T000000Z',
            authorization,
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
            }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${operation} timed out after ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A call whose JSON answer is wanted; throws with the error body on a non-200 status. */
  async json<T = Record<string, unknown>>(operation: string, input: unknown): Promise<T> {
    const reply = await this.call(operation, JSON.stringify(input));
    const text = reply.body.toString('utf8');
    if (reply.status !== 200) {
      throw new KinesisCallError(operation, reply.status, text);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

export class KinesisCallError extends Error {
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly text: string,
  ) {
    super(`${operation} answered ${status}: ${text.slice(0, 300)}`);
  }

  get type(): string {
    return /"__type"\s*:\s*"(?:[^"#]*#)?([^"]+)"/.exec(this.text)?.[1] ?? '';
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Create a stream (if missing) and wait until it is ACTIVE. */
export async function ensureStream(
  client: KinesisHttp,
  name: string,
  shards: number,
  timeoutMs = 30_000,
): Promise<void> {
  try {
    await client.json('CreateStream', { StreamName: name, ShardCount: shards });
  } catch (error) {
    if (!(error instanceof KinesisCallError && error.type === 'ResourceInUseException')) throw error;
  }
  await waitActive(client, name, timeoutMs);
}

export async function waitActive(client: KinesisHttp, name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await client.json<{ StreamDescriptionSummary?: { StreamStatus?: string } }>(
      'DescribeStreamSummary',
      { StreamName: name },
    );
    if (out.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`stream ${name} not ACTIVE after ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Count occurrences of `needle` in `haystack` without decoding it (fast: native search). */
export function countOccurrences(haystack: Buffer, needle: Buffer): number {
  let n = 0;
  let at = haystack.indexOf(needle);
  while (at !== -1) {
    n++;
    at = haystack.indexOf(needle, at + needle.length);
  }
  return n;
}

/** The string value of a top-level-ish JSON key found by search (values here hold no quotes). */
export function stringField(body: Buffer, key: string): string | undefined {
  const marker = Buffer.from(`"${key}":`);
  const at = body.lastIndexOf(marker);
  if (at === -1) return undefined;
  let i = at + marker.length;
  while (body[i] === 0x20) i++;
  if (body[i] !== 0x22) return undefined; // null or not a string
  const end = body.indexOf(0x22, i + 1);
  return body.toString('utf8', i + 1, end);
}

export function numberField(body: Buffer, key: string): number | undefined {
  const marker = Buffer.from(`"${key}":`);
  const at = body.lastIndexOf(marker);
  if (at === -1) return undefined;
  const m = /^\s*(-?\d+(?:\.\d+)?)/.exec(
    body.toString('latin1', at + marker.length, at + marker.length + 40),
  );
  return m ? Number(m[1]) : undefined;
}
