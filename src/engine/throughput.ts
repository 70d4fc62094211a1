/**
 * Per-shard throughput limits as the service applies them: writes of 1 MiB/s or 1,000 records/s,
 * reads of 2 MiB/s and 5 GetRecords calls/s (configurable). Each limit is a token bucket that
 * refills continuously and holds one second of allowance; a call is admitted while its bucket is
 * positive and then charged in full, so a large record or read is allowed and the shard's
 * following calls wait it off (as the service does with 10 MiB reads).
 *
 * The buckets live in the frontend that serves the call. In a fleet of N frontends (as the store
 * counts them, src/engine/leases.ts) each frontend's buckets refill at 1/N of the limits and hold
 * 1/N of a second's allowance, so what the fleet accepts for a shard never exceeds the limit plus
 * one second of burst, however the calls are spread (see ARCHITECTURE.md).
 */
export interface ThroughputLimits {
  writeBytesPerSec: number;
  writeRecordsPerSec: number;
  readBytesPerSec: number;
  readCallsPerSec: number;
}

class Bucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limitPerSec: number,
    private readonly share: { frontends: number },
    now: number,
  ) {
    this.tokens = limitPerSec / share.frontends;
    this.last = now;
  }

  private refill(now: number): void {
    const perSec = this.limitPerSec / this.share.frontends;
    this.tokens = Math.min(perSec, this.tokens + ((now - this.last) / 1000) * perSec);
    this.last = now;
  }

  /** Whether a call may go now (the bucket is not in debt). */
  open(now: number, need = Number.MIN_VALUE): boolean {
    this.refill(now);
    // A share smaller than one call (5 GetRecords/s over 6 frontends) admits a call once the
    // bucket is full and charges it in full: the long-run rate still stays within the share.
    return this.tokens >= Math.min(need, this.limitPerSec / this.share.frontends);
  }

  charge(amount: number): void {
    this.tokens -= amount;
  }
}

interface ShardBuckets {
  writeBytes: Bucket;
  writeRecords: Bucket;
  readBytes: Bucket;
  readCalls: Bucket;
}

export class ShardThrottle {
  /** One entry per shard that saw traffic; dropped with its stream (bounded by the shard count). */
  private readonly shards = new Map<string, ShardBuckets>();
  /** Frontends sharing the limits (1 on the embedded store). */
  private readonly share = { frontends: 1 };

  constructor(private readonly limits: ThroughputLimits | undefined) {}

  /** The fleet now has `count` frontends: each bucket refills at 1/count of its limit. */
  setFrontends(count: number): void {
    this.share.frontends = Math.max(1, count);
  }

  private bucketsOf(streamKey: number, shard: number, now: number): ShardBuckets {
    const key = `${streamKey}:${shard}`;
    let buckets = this.shards.get(key);
    if (!buckets) {
      const l = this.limits as ThroughputLimits;
      buckets = {
        writeBytes: new Bucket(l.writeBytesPerSec, this.share, now),
        writeRecords: new Bucket(l.writeRecordsPerSec, this.share, now),
        readBytes: new Bucket(l.readBytesPerSec, this.share, now),
        readCalls: new Bucket(l.readCallsPerSec, this.share, now),
      };
      this.shards.set(key, buckets);
    }
    return buckets;
  }

  /** Admit one record of `bytes` to a shard, charging it; false when the shard is over its limit. */
  admitWrite(streamKey: number, shard: number, bytes: number, now = Date.now()): boolean {
    if (!this.limits) return true;
    const b = this.bucketsOf(streamKey, shard, now);
    if (!b.writeRecords.open(now, 1) || !b.writeBytes.open(now)) return false;
    b.writeRecords.charge(1);
    b.writeBytes.charge(bytes);
    return true;
  }

  /** Admit a GetRecords call on a shard (5 per second, and no read debt), charging the call. */
  admitRead(streamKey: number, shard: number, now = Date.now()): boolean {
    if (!this.limits) return true;
    const b = this.bucketsOf(streamKey, shard, now);
    if (!b.readCalls.open(now, 1) || !b.readBytes.open(now)) return false;
    b.readCalls.charge(1);
    return true;
  }

  /** Charge the bytes a read returned. */
  chargeRead(streamKey: number, shard: number, bytes: number, now = Date.now()): void {
    if (!this.limits) return;
    this.bucketsOf(streamKey, shard, now).readBytes.charge(bytes);
  }

  forgetStream(streamKey: number): void {
    for (const key of this.shards.keys()) if (key.startsWith(`${streamKey}:`)) this.shards.delete(key);
  }
}
