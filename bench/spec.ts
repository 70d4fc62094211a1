/** What the orchestrator (bench/run.ts) asks of a load generator process (bench/load.ts). */
import type { LatencySummary } from './stats.js';

export type LoadSpec = PutSpec | DrainSpec | FillManySpec;

/** PutRecords (batch > 1) or PutRecord (batch = 1) into one stream. */
export interface PutSpec {
  kind: 'put';
  url: string;
  stream: string;
  shards: number;
  recordBytes: number;
  /** Records per request; 1 means PutRecord. */
  batch: number;
  /** Concurrent callers (closed loop); ignored with `rate`. */
  callers: number;
  seconds: number;
  /** Open loop: records per second, sent as `batch`-record requests on a fixed schedule;
   * latency is measured from each request's scheduled send time. */
  rate?: number;
  /** Open loop: requests allowed in flight at once; beyond it a scheduled request is dropped. */
  maxInFlight?: number;
  /** Open loop: seconds of the same load before the measured window, not measured. */
  warmupSeconds?: number;
}

/** Pre-fill a stream, then drain every shard from TRIM_HORIZON, one reader per shard. */
export interface DrainSpec {
  kind: 'drain';
  url: string;
  stream: string;
  shards: number;
  recordBytes: number;
  fillRecords: number;
  /** Time allowed for the pre-fill; the drain then reads what was stored. */
  fillBudgetSeconds: number;
  fillCallers: number;
  /** Upper bound on the drain itself. */
  seconds: number;
}

/** Create many one-shard streams and put records across them (start-up pre-fill). */
export interface FillManySpec {
  kind: 'fill-many';
  url: string;
  streams: number;
  records: number;
  recordBytes: number;
  callers: number;
  budgetSeconds: number;
}

export interface LoadResult {
  /** Records acknowledged (put) or read (drain) in the measured phase. */
  records: number;
  /** Record payload bytes of those records. */
  bytes: number;
  requests: number;
  seconds: number;
  latency: LatencySummary;
  /** Requests that failed (non-200 or network error) and records refused inside a 200. */
  errors: number;
  failedRecords: number;
  /** Open loop: scheduled requests dropped because too many were in flight, or unfinished. */
  dropped?: number;
  /** Open loop: the request rate asked for and the rate of acknowledged records reached. */
  targetRecordsPerSec?: number;
  errorSamples: string[];
  /** Anything the reader of the report should know (pre-fill cut short, ...). */
  notes: string[];
  /** Pre-fill outcome where there was one. */
  filled?: { streams: number; records: number; seconds: number };
}

export type ToParent =
  | { type: 'ready'; filled?: LoadResult['filled']; notes: string[] }
  | { type: 'result'; result: LoadResult }
  | { type: 'error'; message: string };

export type ToChild = { type: 'spec'; spec: LoadSpec } | { type: 'go' };
