import type { Engine } from '../engine/engine.js';
import { hashKeyOf, shardIndexOf } from '../engine/hash.js';
import { openIterator } from '../engine/tokens.js';
import { chaos as bounds } from '../limits.js';
import type { RequestContext } from '../server/handler.js';
import type { StreamDoc } from '../store/store.js';

/** What fault rules and the dependents map need to know of a request, worked out once. */
export interface RequestFacts {
  operation: string;
  /** The stream the request names (by name, ARN, consumer ARN, StreamId or shard iterator). */
  stream?: string;
  /** Shards the request names (ShardId, ShardToSplit..., the iterator's shard); writes: see
   * `routes`. */
  shards?: number[];
  /** GetRecords: when its iterator was issued. */
  iteratorIssuedMs?: number;
  caller: Caller;
  /** Filled by routesOf. */
  routes?: Array<number | undefined>;
  /** Set by the fault engine: the effect a rule applied to this request, if any. */
  injected?: string;
  /** Reset or left hanging by a fault: never answered. */
  dropped?: boolean;
  /** PutRecords: records the answer reports failed (throttled or injected). */
  failedRecords?: number;
  /** Records a write carries (1 for PutRecord, the batch size for PutRecords). */
  records: number;
}

/** Writes: the open shard each record routes to (undefined where it cannot be told), worked out
 * only when a rule asks (it hashes every record). */
export function routesOf(engine: Engine, context: RequestContext): Array<number | undefined> {
  const known = factsOf(engine, context);
  if (known.routes) return known.routes;
  const input = context.input;
  const list = context.operation === 'PutRecord' ? [input] : ((input.Records as unknown[]) ?? []);
  let doc: StreamDoc | undefined;
  try {
    doc = known.stream === undefined ? undefined : engine.find({ StreamName: known.stream });
  } catch {
    doc = undefined;
  }
  const ranges = doc ? rangesOf(doc) : [];
  known.routes = list.map((record) => routeOf(ranges, record as Record<string, unknown>));
  return known.routes;
}

/** Who sent a request: its access key id and user agent product, or its source address. */
export interface Caller {
  id: string;
  accessKeyId?: string;
  product: string;
  userAgent?: string;
  sourceAddress?: string;
}

const facts = new WeakMap<RequestContext, RequestFacts>();

/** The facts of a request, computed on first use and kept with the context. */
export function factsOf(engine: Engine, context: RequestContext): RequestFacts {
  let known = facts.get(context);
  if (!known) {
    known = describe(engine, context);
    facts.set(context, known);
  }
  return known;
}

const streamArn = /^arn:aws[^:]*:kinesis:[^:]*:\d{12}:stream\/([^/]+)/;

function describe(engine: Engine, context: RequestContext): RequestFacts {
  const input = context.input;
  const text = (key: string) => (typeof input[key] === 'string' ? (input[key] as string) : undefined);
  let stream = text('StreamName');
  let shards: number[] | undefined;
  let iteratorIssuedMs: number | undefined;
  const arn = text('StreamARN') ?? text('ConsumerARN') ?? text('ResourceARN');
  if (stream === undefined && arn !== undefined) stream = streamArn.exec(arn)?.[1];
  const streamId = text('StreamId');
  if (stream === undefined && streamId !== undefined) {
    for (const doc of engine.streams()) if (doc.streamId === streamId) stream = doc.name;
  }
  const iterator = text('ShardIterator');
  if (iterator !== undefined) {
    const state = openIterator(engine.sealer, iterator.replace(/^"(.*)"$/, '$1'));
    if (state) {
      stream ??= state.streamName;
      shards = [state.shard];
      iteratorIssuedMs = state.issuedMs;
    }
  }
  const named = ['ShardId', 'ShardToSplit', 'ShardToMerge', 'AdjacentShardToMerge']
    .map((key) => text(key))
    .filter((id): id is string => id !== undefined)
    .map((id) => shardIndexOf(id))
    .filter((index): index is number => index !== undefined);
  if (named.length > 0) shards = named;
  let records = 0;
  if (context.operation === 'PutRecord') records = 1;
  if (context.operation === 'PutRecords' && Array.isArray(input.Records)) records = input.Records.length;
  return {
    operation: context.operation,
    stream,
    shards,
    iteratorIssuedMs,
    caller: callerOf(context),
    records,
  };
}

interface Range {
  start: bigint;
  end: bigint;
  index: number;
}

/** Open shards' hash ranges per stream document (documents are immutable). */
const rangeCache = new WeakMap<StreamDoc, Range[]>();

function rangesOf(doc: StreamDoc): Range[] {
  let ranges = rangeCache.get(doc);
  if (!ranges) {
    ranges = doc.shards
      .filter((shard) => shard.closedMs === undefined)
      .map((shard) => ({
        start: BigInt(shard.startingHashKey),
        end: BigInt(shard.endingHashKey),
        index: shard.index,
      }));
    rangeCache.set(doc, ranges);
  }
  return ranges;
}

/** The open shard a record routes to: its explicit hash key, else the MD5 of its partition key. */
function routeOf(ranges: Range[], record: Record<string, unknown>): number | undefined {
  let key: bigint;
  try {
    key =
      typeof record.ExplicitHashKey === 'string'
        ? BigInt(record.ExplicitHashKey)
        : hashKeyOf(String(record.PartitionKey ?? ''));
  } catch {
    return undefined;
  }
  for (const range of ranges) if (key >= range.start && key <= range.end) return range.index;
  return undefined;
}

const products = new Map<string, string>();

/**
 * The product a user agent names: its `app/<id>` token (the SDKs' application id) if any, else
 * the name of its first product token (`aws-sdk-js`, `Boto3`, `aws-cli`).
 */
export function productOf(userAgent: string | undefined): string {
  if (!userAgent) return 'unknown';
  let product = products.get(userAgent);
  if (product === undefined) {
    const app = /(?:^|\s)app\/([^\s]+)/.exec(userAgent)?.[1];
    const first = userAgent.trim().split(/\s+/)[0]?.split('/')[0];
    product = (app ?? first ?? 'unknown').slice(0, bounds.maxProductChars) || 'unknown';
    if (products.size >= bounds.userAgentCacheEntries) products.clear();
    products.set(userAgent, product);
  }
  return product;
}

export function callerOf(context: {
  accessKeyId?: string;
  userAgent?: string;
  sourceAddress?: string;
}): Caller {
  const product = productOf(context.userAgent);
  const who = context.accessKeyId ?? `ip:${context.sourceAddress ?? 'unknown'}`;
  return {
    id: `${who.slice(0, 128)} ${product}`,
    accessKeyId: context.accessKeyId,
    product,
    userAgent: context.userAgent?.slice(0, 256),
    sourceAddress: context.sourceAddress,
  };
}
