import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StreamMetrics } from '../engine/engine.js';
import { shardIdOf } from '../engine/hash.js';
import { guard as limits } from '../limits.js';
import type { ResourceGuard } from './guard.js';

/**
 * `/metrics` in the Prometheus text format (prom-client): the resource guard's gauges with their
 * limits and alarm thresholds, and the service's per-stream and per-shard metrics (the names of
 * the CloudWatch metrics, as counters). Per-shard series are bounded: past `maxShardSeries`
 * distinct stream and shard pairs, new ones are counted under shard `_other`.
 */
export class Metrics implements StreamMetrics {
  readonly registry = new Registry();
  private readonly seen = new Set<string>();
  private readonly incomingBytes: Counter;
  private readonly incomingRecords: Counter;
  private readonly outgoingBytes: Counter;
  private readonly outgoingRecords: Counter;
  private readonly writeExceeded: Counter;
  private readonly readExceeded: Counter;
  private readonly iteratorAge: Gauge;
  readonly requests: Counter;
  readonly latency: Histogram;
  readonly shed: Counter;

  constructor(guard: ResourceGuard) {
    const labelNames = ['stream', 'shard'] as const;
    const counter = (name: string, help: string) =>
      new Counter({ name, help, labelNames, registers: [this.registry] });
    this.incomingBytes = counter('kinesis_incoming_bytes_total', 'IncomingBytes: bytes written to the shard');
    this.incomingRecords = counter('kinesis_incoming_records_total', 'IncomingRecords: records written');
    this.outgoingBytes = counter(
      'kinesis_getrecords_bytes_total',
      'GetRecords.Bytes: bytes read by GetRecords',
    );
    this.outgoingRecords = counter('kinesis_getrecords_records_total', 'GetRecords.Records: records read');
    this.writeExceeded = counter(
      'kinesis_write_provisioned_throughput_exceeded_total',
      'WriteProvisionedThroughputExceeded: records refused by the per-shard write limit',
    );
    this.readExceeded = counter(
      'kinesis_read_provisioned_throughput_exceeded_total',
      'ReadProvisionedThroughputExceeded: GetRecords calls refused by the per-shard read limit',
    );
    this.iteratorAge = new Gauge({
      name: 'kinesis_getrecords_iterator_age_milliseconds',
      help: 'GetRecords.IteratorAgeMilliseconds: how far behind the tip the last GetRecords was',
      labelNames,
      registers: [this.registry],
    });
    this.requests = new Counter({
      name: 'sluice_requests_total',
      help: 'Requests answered, by operation and outcome (error type or ok)',
      labelNames: ['operation', 'outcome'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'sluice_request_duration_seconds',
      help: 'Time from request to response, by operation',
      labelNames: ['operation'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [this.registry],
    });
    this.shed = new Counter({
      name: 'sluice_shed_total',
      help: 'Requests refused early by admission control, by reason',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    const resource = (
      suffix: string,
      help: string,
      pick: (r: ReturnType<ResourceGuard['report']>[number]) => number,
    ) =>
      new Gauge({
        name: `sluice_resource_${suffix}`,
        help,
        labelNames: ['resource', 'unit'],
        registers: [this.registry],
        collect() {
          for (const r of guard.report()) this.set({ resource: r.name, unit: r.unit }, pick(r));
        },
      });
    resource('value', 'Current use of each guarded resource', (r) => r.value);
    resource('limit', 'Limit of each guarded resource', (r) => r.limit);
    resource(
      'alarm_threshold',
      'Alarm threshold of each guarded resource (below its limit)',
      (r) => r.alarmAt,
    );
    resource('alarm', '1 while the resource is past its alarm threshold', (r) => (r.alarm ? 1 : 0));
  }

  private labels(stream: string, shard: number): { stream: string; shard: string } {
    const key = `${stream}\u0000${shard}`;
    if (!this.seen.has(key)) {
      if (this.seen.size >= limits.maxShardSeries) return { stream, shard: '_other' };
      this.seen.add(key);
    }
    return { stream, shard: shardIdOf(shard) };
  }

  incoming(stream: string, shard: number, records: number, bytes: number): void {
    const labels = this.labels(stream, shard);
    this.incomingRecords.inc(labels, records);
    this.incomingBytes.inc(labels, bytes);
  }

  outgoing(stream: string, shard: number, records: number, bytes: number, iteratorAgeMs: number): void {
    const labels = this.labels(stream, shard);
    this.outgoingRecords.inc(labels, records);
    this.outgoingBytes.inc(labels, bytes);
    this.iteratorAge.set(labels, iteratorAgeMs);
  }

  writeThrottled(stream: string, shard: number): void {
    this.writeExceeded.inc(this.labels(stream, shard));
  }

  readThrottled(stream: string, shard: number): void {
    this.readExceeded.inc(this.labels(stream, shard));
  }
}
