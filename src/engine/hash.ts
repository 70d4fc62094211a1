import { hash } from 'node:crypto';
import { kinesis } from '../limits.js';

/** A partition key's hash key: the MD5 of its UTF-8 bytes read as a 128-bit unsigned integer. */
export function hashKeyOf(partitionKey: string): bigint {
  // The one-shot hash (strings are hashed as UTF-8) and one BigInt parse: about 2x cheaper than
  // createHash().update().digest() and two 64-bit reads, on a path taken for every record.
  return BigInt(`0x${hash('md5', partitionKey, 'hex')}`);
}

/** Split the hash key space into `count` contiguous ranges, as the service does at creation. */
export function evenRanges(count: number): Array<{ start: bigint; end: bigint }> {
  const size = (kinesis.maxHashKey + 1n) / BigInt(count);
  const ranges: Array<{ start: bigint; end: bigint }> = [];
  for (let i = 0; i < count; i++) {
    const start = size * BigInt(i);
    const end = i === count - 1 ? kinesis.maxHashKey : start + size - 1n;
    ranges.push({ start, end });
  }
  return ranges;
}

export function shardIdOf(index: number): string {
  return `shardId-${String(index).padStart(12, '0')}`;
}

/** Largest shard index a shard id may name (the service parses it as a Java int). */
const maxShardIdIndex = 2_147_483_647;

/**
 * The index a shard id names, read as the service reads it: the digits after the first hyphen
 * (or the whole id when it has none), so `shardId-000000000005`, `shardId-5` and `5` all name
 * shard 5. Undefined when the id cannot be resolved.
 */
export function shardIndexOf(shardId: string): number | undefined {
  const hyphen = shardId.indexOf('-');
  const digits = hyphen === -1 ? shardId : shardId.slice(hyphen + 1);
  if (!/^\d{1,20}$/.test(digits)) return undefined;
  const index = Number(digits);
  return index <= maxShardIdIndex ? index : undefined;
}
