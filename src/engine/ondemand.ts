import { kinesis } from '../limits.js';
import type { StreamDoc } from '../store/store.js';

/**
 * The capacity policy of ON_DEMAND streams. The service keeps room for twice the peak write
 * throughput it has seen; Sluice does the same with what one frontend observes: every check, if
 * the average write rate over the window used more than half of the open shards' write capacity
 * (1 MiB/s or 1,000 records/s per shard, whichever is hit first), the stream is scaled to twice
 * its open shards (uniformly, by splits), bounded by the account shard limit and the per-stream
 * maximum. It never scales down by itself, as the service does not within 30 days.
 */
export interface OnDemandPolicy {
  /** Length of the observation window, and how often the policy is checked. */
  windowMs: number;
  checkMs: number;
  /** Per-shard write capacity the policy measures against. */
  shardBytesPerSec: number;
  shardRecordsPerSec: number;
  /** Fraction of capacity that, sustained over the window, triggers a doubling. */
  scaleUpAt: number;
}

export const defaultOnDemandPolicy: OnDemandPolicy = {
  windowMs: 60_000,
  checkMs: 10_000,
  shardBytesPerSec: kinesis.shardWriteBytesPerSec,
  shardRecordsPerSec: kinesis.shardWriteRecordsPerSec,
  scaleUpAt: 0.5,
};

/** Writes per stream in one-second buckets over the window (bounded: window / 1 s buckets). */
class WriteMeter {
  private readonly records: number[];
  private readonly bytes: number[];
  private second = 0;

  constructor(private readonly buckets: number) {
    this.records = new Array(buckets).fill(0);
    this.bytes = new Array(buckets).fill(0);
  }

  private advance(nowSec: number): void {
    if (nowSec - this.second >= this.buckets) {
      this.records.fill(0);
      this.bytes.fill(0);
    } else {
      for (let s = this.second + 1; s <= nowSec; s++) {
        this.records[s % this.buckets] = 0;
        this.bytes[s % this.buckets] = 0;
      }
    }
    this.second = Math.max(this.second, nowSec);
  }

  add(nowMs: number, records: number, bytes: number): void {
    const sec = Math.floor(nowMs / 1000);
    this.advance(sec);
    const i = sec % this.buckets;
    this.records[i] = (this.records[i] ?? 0) + records;
    this.bytes[i] = (this.bytes[i] ?? 0) + bytes;
  }

  /** Average records/s and bytes/s over the window. */
  rates(nowMs: number): { records: number; bytes: number } {
    this.advance(Math.floor(nowMs / 1000));
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    return { records: sum(this.records) / this.buckets, bytes: sum(this.bytes) / this.buckets };
  }
}

/** Cumulative writes of one shard as the store counts them, whichever frontend wrote. */
export interface ShardCounters {
  records: number;
  bytes: number;
}

/**
 * The writes of every frontend to a stream, measured from the store: samples of its shards'
 * cumulative counters taken at each check (by the owner only), kept over the window; the rate is
 * the difference between the oldest and newest sample of the shards in both. Bytes include the
 * store's per-record overhead and drop when trimming removed records: a negative difference
 * counts as none (the records count stays exact).
 */
class FleetMeter {
  private readonly samples: Array<{ tMs: number; shards: Map<number, ShardCounters> }> = [];

  constructor(private readonly keep: number) {}

  add(tMs: number, shards: Map<number, ShardCounters>): void {
    this.samples.push({ tMs, shards });
    while (this.samples.length > this.keep) this.samples.shift();
  }

  rates(): { records: number; bytes: number } | undefined {
    const oldest = this.samples[0];
    const newest = this.samples[this.samples.length - 1];
    if (!oldest || !newest || newest.tMs <= oldest.tMs) return undefined;
    let records = 0;
    let bytes = 0;
    for (const [shard, now] of newest.shards) {
      const then = oldest.shards.get(shard);
      if (!then) continue;
      records += Math.max(0, now.records - then.records);
      bytes += Math.max(0, now.bytes - then.bytes);
    }
    const seconds = (newest.tMs - oldest.tMs) / 1000;
    return { records: records / seconds, bytes: bytes / seconds };
  }
}

export class OnDemandScaler {
  private readonly meters = new Map<number, WriteMeter>();
  private readonly fleetMeters = new Map<number, FleetMeter>();
  private readonly buckets: number;

  constructor(readonly policy: OnDemandPolicy) {
    this.buckets = Math.max(1, Math.round(policy.windowMs / 1000));
  }

  /** A sample of a stream's shard counters from the store (all frontends' writes). */
  noteCounters(streamKey: number, shards: Map<number, ShardCounters>, nowMs = Date.now()): void {
    let meter = this.fleetMeters.get(streamKey);
    if (!meter) {
      meter = new FleetMeter(Math.max(2, Math.round(this.policy.windowMs / this.policy.checkMs) + 1));
      this.fleetMeters.set(streamKey, meter);
    }
    meter.add(nowMs, shards);
  }

  noteWrite(streamKey: number, records: number, bytes: number, nowMs = Date.now()): void {
    let meter = this.meters.get(streamKey);
    if (!meter) {
      meter = new WriteMeter(this.buckets);
      this.meters.set(streamKey, meter);
    }
    meter.add(nowMs, records, bytes);
  }

  forget(streamKey: number): void {
    this.meters.delete(streamKey);
    this.fleetMeters.delete(streamKey);
  }

  /** The shard count an ON_DEMAND stream should have now, or undefined to leave it as it is. */
  target(doc: StreamDoc, nowMs = Date.now()): number | undefined {
    if (doc.mode !== 'ON_DEMAND' || doc.status !== 'ACTIVE') return undefined;
    const local = this.meters.get(doc.key)?.rates(nowMs);
    const fleet = this.fleetMeters.get(doc.key)?.rates();
    if (!local && !fleet) return undefined;
    const open = doc.shards.filter((s) => s.closedMs === undefined).length;
    // The store's count covers every frontend; this frontend's own meter covers a store that
    // cannot count (and the first check, before the store has two samples).
    const records = Math.max(local?.records ?? 0, fleet?.records ?? 0);
    const bytes = Math.max(local?.bytes ?? 0, fleet?.bytes ?? 0);
    const used = Math.max(
      records / (open * this.policy.shardRecordsPerSec),
      bytes / (open * this.policy.shardBytesPerSec),
    );
    if (used <= this.policy.scaleUpAt) return undefined;
    return Math.min(open * 2, kinesis.maxShardsPerStream);
  }
}
