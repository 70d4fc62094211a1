import type { Handler, Input } from '../api/operations.js';
import { kinesis } from '../limits.js';
import { errors } from '../protocol/errors.js';
import type { ShardDoc, StreamDoc, StreamMode } from '../store/store.js';
import type { Engine, StreamRef } from './engine.js';
import { evenRanges, shardIdOf, shardIndexOf } from './hash.js';
import { messages } from './messages.js';

/**
 * Resharding and capacity modes. Every change is one compare-and-set of the stream document
 * that closes parents and opens children at the same instant (so writes move to the children at
 * once), followed by sealing the parents in the store (Engine.sealShards), after which a parent's
 * end is final and its readers get ChildShards.
 */

const dayMs = 24 * 3_600_000;

interface Plan {
  /** Shards to close (open ones of the current document). */
  close: number[];
  /** New shards, in creation order; the last ones created stay open. */
  create: ShardDoc[];
}

function requireActive(engine: Engine, doc: StreamDoc): void {
  if (doc.status !== 'ACTIVE') {
    throw errors.resourceInUse(messages.streamNotActive(doc.name, engine.config.accountId, doc.status));
  }
}

function requireProvisioned(doc: StreamDoc, operation: string): void {
  if (doc.mode === 'ON_DEMAND') throw errors.invalidArgument(messages.provisionedOnly(operation, doc.name));
}

/** The open shard a request names, with the service's messages when it names none. */
function openShard(engine: Engine, doc: StreamDoc, given: string): ShardDoc {
  const account = engine.config.accountId;
  const index = shardIndexOf(given);
  const shard = index === undefined ? undefined : doc.shards.find((s) => s.index === index);
  if (!shard) {
    throw errors.resourceNotFound(
      messages.shardUnresolvable(index === undefined ? given : shardIdOf(index), doc.name, account),
    );
  }
  if (shard.closedMs !== undefined) {
    throw errors.resourceInUse(messages.shardClosed(shardIdOf(shard.index), doc.name, account));
  }
  return shard;
}

function checkShardLimit(engine: Engine, added: number): void {
  const current = engine.openShardCount();
  if (current + added > engine.config.shardLimit) {
    const { accountId, region, shardLimit } = engine.config;
    throw errors.limitExceeded(messages.shardLimit(accountId, region, current, shardLimit, added));
  }
}

/** Apply a plan to a document: close parents and add children opened now; UPDATING for a while. */
function applyPlan(engine: Engine, doc: StreamDoc, plan: Plan, now: number): StreamDoc {
  const closing = new Set(plan.close);
  const updating = engine.config.updateStreamMs > 0;
  return {
    ...doc,
    status: updating ? 'UPDATING' : doc.status,
    statusUntilMs: updating ? now + engine.config.updateStreamMs : doc.statusUntilMs,
    shards: [...doc.shards.map((s) => (closing.has(s.index) ? { ...s, closedMs: now } : s)), ...plan.create],
  };
}

/** Run a plan made from the current document: one compare-and-set, then seal the parents. */
async function reshard(
  engine: Engine,
  ref: StreamRef,
  makePlan: (doc: StreamDoc) => Plan,
): Promise<StreamDoc> {
  let closed: number[] = [];
  const doc = await engine.modify(ref, (current) => {
    const plan = makePlan(current);
    closed = plan.close;
    return applyPlan(engine, current, plan, Date.now());
  });
  await engine.sealShards(doc, closed);
  return doc;
}

function nextIndex(doc: StreamDoc): number {
  return doc.shards.reduce((max, s) => Math.max(max, s.index), -1) + 1;
}

async function splitShard(
  engine: Engine,
  input: StreamRef & { ShardToSplit: string; NewStartingHashKey: string },
): Promise<Record<string, never>> {
  await reshard(engine, input, (doc) => {
    requireActive(engine, doc);
    requireProvisioned(doc, 'SplitShard');
    const parent = openShard(engine, doc, input.ShardToSplit);
    const start = BigInt(parent.startingHashKey);
    const end = BigInt(parent.endingHashKey);
    const at = BigInt(input.NewStartingHashKey);
    if (at <= start + 1n || at >= end) {
      throw errors.invalidArgument(
        messages.splitHashKey(
          input.NewStartingHashKey,
          shardIdOf(parent.index),
          doc.name,
          engine.config.accountId,
          parent.startingHashKey,
          parent.endingHashKey,
        ),
      );
    }
    checkShardLimit(engine, 1);
    const now = Date.now();
    const index = nextIndex(doc);
    return {
      close: [parent.index],
      create: [child(index, start, at - 1n, now, parent.index), child(index + 1, at, end, now, parent.index)],
    };
  });
  return {};
}

function child(
  index: number,
  start: bigint,
  end: bigint,
  openedMs: number,
  parent: number,
  adjacent?: number,
): ShardDoc {
  const shard: ShardDoc = {
    index,
    startingHashKey: start.toString(),
    endingHashKey: end.toString(),
    parentIndex: parent,
    openedMs,
  };
  if (adjacent !== undefined) shard.adjacentParentIndex = adjacent;
  return shard;
}

async function mergeShards(
  engine: Engine,
  input: StreamRef & { ShardToMerge: string; AdjacentShardToMerge: string },
): Promise<Record<string, never>> {
  await reshard(engine, input, (doc) => {
    requireActive(engine, doc);
    requireProvisioned(doc, 'MergeShards');
    const a = openShard(engine, doc, input.ShardToMerge);
    const b = openShard(engine, doc, input.AdjacentShardToMerge);
    const [low, high] = BigInt(a.startingHashKey) < BigInt(b.startingHashKey) ? [a, b] : [b, a];
    if (a.index === b.index || BigInt(low.endingHashKey) + 1n !== BigInt(high.startingHashKey)) {
      throw errors.invalidArgument(
        messages.notAdjacent(shardIdOf(a.index), shardIdOf(b.index), doc.name, engine.config.accountId),
      );
    }
    const now = Date.now();
    return {
      close: [a.index, b.index],
      create: [
        child(nextIndex(doc), BigInt(low.startingHashKey), BigInt(high.endingHashKey), now, a.index, b.index),
      ],
    };
  });
  return {};
}

/**
 * UNIFORM_SCALING as the service does it: a series of splits and merges, so that every new shard
 * has at most two parents and readers that finish parents before children keep per-key order.
 * Open shards are first split at every target boundary inside them, then the pieces of each
 * target range are merged pairwise. Intermediate shards open and close at the same instant and
 * never hold a record.
 */
export function uniformPlan(open: ShardDoc[], target: number, firstIndex: number, now: number): Plan {
  const targets = evenRanges(target);
  const boundaries = targets.slice(1).map((r) => r.start);
  let index = firstIndex;
  const close: number[] = [];
  const create: ShardDoc[] = [];
  const retire = (shard: ShardDoc) => {
    if (shard.openedMs === now && create.includes(shard)) shard.closedMs = now;
    else close.push(shard.index);
  };
  // 1. Split each open shard at the boundaries strictly inside it.
  const pieces: ShardDoc[] = [];
  for (const shard of [...open].sort((x, y) =>
    BigInt(x.startingHashKey) < BigInt(y.startingHashKey) ? -1 : 1,
  )) {
    let current = shard;
    for (const b of boundaries) {
      const start = BigInt(current.startingHashKey);
      const end = BigInt(current.endingHashKey);
      if (b <= start || b > end) continue;
      const left = child(index++, start, b - 1n, now, current.index);
      const right = child(index++, b, end, now, current.index);
      create.push(left, right);
      retire(current);
      pieces.push(left);
      current = right;
    }
    pieces.push(current);
  }
  // 2. Merge the pieces of each target range, left to right.
  for (const range of targets) {
    const inRange = pieces.filter(
      (p) => BigInt(p.startingHashKey) >= range.start && BigInt(p.endingHashKey) <= range.end,
    );
    let merged = inRange[0];
    for (const next of inRange.slice(1)) {
      if (!merged) break;
      const joined = child(
        index++,
        BigInt(merged.startingHashKey),
        BigInt(next.endingHashKey),
        now,
        merged.index,
        next.index,
      );
      create.push(joined);
      retire(merged);
      retire(next);
      merged = joined;
    }
  }
  // Pieces split from a shard and then merged were created and closed in this plan: mark ends.
  for (const shard of create) if (shard.closedMs !== undefined) shard.endPosition = 0;
  return { close, create };
}

async function updateShardCount(
  engine: Engine,
  input: StreamRef & { TargetShardCount: number; ScalingType: string },
): Promise<unknown> {
  let before = 0;
  const now = Date.now();
  const doc = await reshard(engine, input, (current) => {
    requireActive(engine, current);
    requireProvisioned(current, 'UpdateShardCount');
    const open = current.shards.filter((s) => s.closedMs === undefined);
    before = open.length;
    const target = input.TargetShardCount;
    const limit = engine.config.shardLimit;
    const others = engine.openShardCount() - open.length;
    if (target > kinesis.maxShardsPerStream || others + target > limit) {
      throw errors.limitExceeded(
        messages.scaleOverLimit(Math.min(limit - others, kinesis.maxShardsPerStream), before, target),
      );
    }
    if (target > before * 2) throw errors.limitExceeded(messages.scaleUpTooFar(before, target));
    if (target < Math.ceil(before / 2)) throw errors.limitExceeded(messages.scaleDownTooFar(before, target));
    const recent = (current.shardCountUpdatesMs ?? []).filter((t) => t > now - dayMs);
    if (recent.length >= kinesis.shardCountUpdatesPerDay) {
      throw errors.limitExceeded(
        messages.scaleTooOften(current.name, engine.config.accountId, kinesis.shardCountUpdatesPerDay),
      );
    }
    const plan = uniformPlan(open, target, nextIndex(current), now);
    return plan;
  });
  // Record the call for the rolling 24-hour limit.
  await engine.modify(input, (current) => ({
    ...current,
    shardCountUpdatesMs: [...(current.shardCountUpdatesMs ?? []).filter((t) => t > now - dayMs), now],
  }));
  return {
    StreamName: doc.name,
    CurrentShardCount: before,
    TargetShardCount: input.TargetShardCount,
    StreamARN: engine.arnOf(doc.name),
  };
}

async function updateStreamMode(
  engine: Engine,
  input: { StreamARN: string; StreamModeDetails: { StreamMode: StreamMode } },
): Promise<Record<string, never>> {
  const now = Date.now();
  await engine.modify(input, (doc) => {
    requireActive(engine, doc);
    const mode = input.StreamModeDetails.StreamMode;
    if (doc.mode === mode) throw errors.resourceInUse(messages.modeUnchanged(doc.name, mode));
    if (mode === 'ON_DEMAND') engine.checkOnDemandLimit();
    const switches = (doc.modeSwitchesMs ?? []).filter((t) => t > now - dayMs);
    if (switches.length >= kinesis.modeSwitchesPerDay) {
      throw errors.limitExceeded(messages.modeSwitchTooOften(doc.name, engine.config.accountId));
    }
    const updating = engine.config.updateStreamMs > 0;
    return {
      ...doc,
      mode,
      modeSwitchesMs: [...switches, now],
      status: updating ? 'UPDATING' : doc.status,
      statusUntilMs: updating ? now + engine.config.updateStreamMs : doc.statusUntilMs,
    };
  });
  return {};
}

/** Nothing to do: the policy's check found the stream no longer needs (or allows) scaling. */
class NoScaling extends Error {}

/** Scale an ON_DEMAND stream up to `target` open shards, as far as the shard limit allows. */
export async function scaleOnDemand(engine: Engine, name: string, target: number): Promise<boolean> {
  try {
    await reshard(engine, { StreamName: name }, (current) => {
      if (current.mode !== 'ON_DEMAND' || current.status !== 'ACTIVE') throw new NoScaling();
      const open = current.shards.filter((s) => s.closedMs === undefined);
      const room = engine.config.shardLimit - (engine.openShardCount() - open.length);
      const count = Math.min(target, room, kinesis.maxShardsPerStream);
      if (count <= open.length) throw new NoScaling();
      return uniformPlan(open, count, nextIndex(current), Date.now());
    });
    return true;
  } catch (error) {
    if (error instanceof NoScaling) return false;
    throw error;
  }
}

async function updateRecordDistribution(
  engine: Engine,
  input: { StreamARN: string; StreamId?: string; RecordDistributionStrategy: 'AUTO' | 'USER_PARTITION_KEY' },
): Promise<Record<string, never>> {
  await engine.modify(input, (doc) => {
    if (doc.status !== 'ACTIVE' && doc.status !== 'UPDATING') {
      throw errors.resourceInUse(messages.streamNotActive(doc.name, engine.config.accountId, doc.status));
    }
    if (doc.mode !== 'ON_DEMAND') throw errors.invalidArgument(messages.autoNeedsOnDemand);
    // Takes effect at once, without UPDATING (the operation's documentation).
    return { ...doc, recordDistribution: input.RecordDistributionStrategy };
  });
  return {};
}

export const reshardingOperations: Record<string, Handler> = {
  UpdateStreamRecordDistributionStrategy: (e, i: Input) => updateRecordDistribution(e, i),
  SplitShard: (e, i: Input) => splitShard(e, i),
  MergeShards: (e, i: Input) => mergeShards(e, i),
  UpdateShardCount: (e, i: Input) => updateShardCount(e, i),
  UpdateStreamMode: (e, i: Input) => updateStreamMode(e, i),
};
