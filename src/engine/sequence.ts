/**
 * Sequence numbers: decimal strings that the engine derives from a record's arrival time, its
 * shard and its store position, laid out so that they are strictly increasing within a shard,
 * unique within a stream, larger for later records across shards, and decodable back to the
 * shard and position (so a sequence number from another shard is recognised and rejected).
 *
 *   bits 182..183  version (2): every sequence number has 56 digits, as the service's have
 *   bits 132..181  zero
 *   bits  88..131  arrival time in ms since the epoch (44 bits: until the year 2527)
 *   bits  64..87   shard index (24 bits: 16,777,216 shards per stream)
 *   bits   0..63   position of the record in its shard, plus one
 *
 * The position field is the store position plus one, so that field 0 means "before the first
 * record": a shard's StartingSequenceNumber, and the continuation point of a reader that has
 * delivered nothing yet, are lower than every record's number, and AFTER_SEQUENCE_NUMBER of
 * either starts at the shard's first record.
 */

const version = 2n;
const versionShift = 182n;
const timeShift = 88n;
const shardShift = 64n;
const timeMask = (1n << 44n) - 1n;
const shardMask = (1n << 24n) - 1n;
const positionMask = (1n << 64n) - 1n;

export const maxShardIndex = Number(shardMask);

export interface SequenceParts {
  arrivalMs: number;
  shard: number;
  /** Store position of the record; -1 for "before the first record". */
  position: number;
}

export function encodeSequence(parts: SequenceParts): string {
  return (
    (version << versionShift) |
    (BigInt(parts.arrivalMs) << timeShift) |
    (BigInt(parts.shard) << shardShift) |
    BigInt(parts.position + 1)
  ).toString();
}

/** The EndingSequenceNumber of a closed shard: its last arrival time with the largest position
 * (2^63 - 1, as the service does), so it is at least every sequence number in the shard. */
export function encodeEndingSequence(arrivalMs: number, shard: number): string {
  return (
    (version << versionShift) |
    (BigInt(arrivalMs) << timeShift) |
    (BigInt(shard) << shardShift) |
    ((1n << 63n) - 1n)
  ).toString();
}

/** Decode a sequence number produced by `encodeSequence`; undefined for anything else. */
export function decodeSequence(text: string): SequenceParts | undefined {
  if (!/^[1-9]\d{0,128}$/.test(text)) return undefined;
  const value = BigInt(text);
  if (value >> versionShift !== version) return undefined;
  const field = value & positionMask;
  if (field > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return {
    arrivalMs: Number((value >> timeShift) & timeMask),
    shard: Number((value >> shardShift) & shardMask),
    position: Number(field) - 1,
  };
}
