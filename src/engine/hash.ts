import { createHash } from 'node:crypto';
import { kinesis } from '../limits.js';

/** A partition key's hash key: the MD5 of its UTF-8 bytes read as a 128-bit unsigned integer. */
export function hashKeyOf(partitionKey: string): bigint {
  const digest = createHash('md5').update(partitionKey, 'utf8').digest();
  return (digest.readBigUInt64BE(0) << 64n) | digest.readBigUInt64BE(8);
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

/** The index in a well-formed shard id, or undefined. */
export function shardIndexOf(shardId: string): number | undefined {
  const match = /^shardId-(\d{12})$/.exec(shardId);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
