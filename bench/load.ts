/**
 * The load generator: one process per workload and server, forked by bench/run.ts so that it
 * never shares a core's event loop with the server or with the orchestrator's sampling. It
 * receives a spec, does the workload's setup (streams, pre-fill), says `ready`, waits for `go`
 * (the orchestrator starts sampling the server in between), runs the measured phase, bounded in
 * time, and sends its result.
 */
import { randomBytes } from 'node:crypto';
import {
  countOccurrences,
  ensureStream,
  KinesisCallError,
  KinesisHttp,
  numberField,
  sleep,
  stringField,
} from './client.js';
import type { DrainSpec, FillManySpec, LoadResult, LoadSpec, PutSpec, ToChild, ToParent } from './spec.js';
import { summarize } from './stats.js';

function send(message: ToParent): void {
  process.send?.(message);
}

let goResolve: (() => void) | undefined;
const go = new Promise<void>((resolve) => {
  goResolve = resolve;
});

process.on('message', (message: ToChild) => {
  if (message.type === 'spec') {
    run(message.spec).then(
      (result) => {
        send({ type: 'result', result });
        setTimeout(() => process.exit(0), 50);
      },
      (error: unknown) => {
        send({
          type: 'error',
          message: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
        setTimeout(() => process.exit(1), 50);
      },
    );
  } else if (message.type === 'go') {
    goResolve?.();
  }
});
// Never outlive the orchestrator.
process.on('disconnect', () => process.exit(2));

async function run(spec: LoadSpec): Promise<LoadResult> {
  switch (spec.kind) {
    case 'put':
      return put(spec);
    case 'drain':
      return drain(spec);
    case 'fill-many':
      return fillMany(spec);
  }
}

// ---------------------------------------------------------------------------------------------
// Request bodies, built once: the measured loop only writes prepared strings.

/** `variants` PutRecords bodies (or PutRecord bodies for batch 1) with distinct partition keys,
 * so that requests spread over every shard. */
function putBodies(stream: string, recordBytes: number, batch: number, variants: number): string[] {
  const bodies: string[] = [];
  for (let v = 0; v < variants; v++) {
    const data = randomBytes(recordBytes).toString('base64');
    if (batch === 1) {
      bodies.push(JSON.stringify({ StreamName: stream, PartitionKey: `pk-${v}`, Data: data }));
    } else {
      const records = Array.from({ length: batch }, (_, i) => ({
        PartitionKey: `pk-${v}-${i}`,
        Data: data,
      }));
      bodies.push(JSON.stringify({ StreamName: stream, Records: records }));
    }
  }
  return bodies;
}

const allAccepted = Buffer.from('"FailedRecordCount":0');

interface Tally {
  records: number;
  failedRecords: number;
  errors: number;
  errorSamples: string[];
  /** Set once the measured phase is over: requests cut off then are unfinished, not errors. */
  stopping: boolean;
  unfinished: number;
}

function newTally(): Tally {
  return { records: 0, failedRecords: 0, errors: 0, errorSamples: [], stopping: false, unfinished: 0 };
}

/** Requests still in flight this long after the measured phase ends are cut off (counted). */
const graceMs = 2_000;

/** Wait for `tasks` until `until`; then cut off what is still in flight (closing the client's
 * sockets) and wait for the tasks to notice. Tasks must not reject. */
async function bounded(
  tasks: Promise<unknown>[],
  until: number,
  client: KinesisHttp,
  tally: Tally,
): Promise<void> {
  const all = Promise.all(tasks);
  const timedOut = await Promise.race([
    all.then(() => false),
    sleep(Math.max(0, until - performance.now())).then(() => true),
  ]);
  if (timedOut) {
    tally.stopping = true;
    client.close();
    await all;
  }
}

function noteError(tally: Tally, text: string): void {
  if (tally.stopping) {
    tally.unfinished++;
    return;
  }
  tally.errors++;
  if (tally.errorSamples.length < 5) tally.errorSamples.push(text.slice(0, 300));
}

/** Send one put and account for it; resolves to whether it was a 200. */
async function putOnce(
  client: KinesisHttp,
  operation: string,
  body: string,
  batch: number,
  tally: Tally,
): Promise<boolean> {
  let reply: Awaited<ReturnType<KinesisHttp['call']>>;
  try {
    reply = await client.call(operation, body);
  } catch (error) {
    noteError(tally, String(error));
    return false;
  }
  if (reply.status !== 200) {
    noteError(tally, `${reply.status} ${reply.body.toString('utf8')}`);
    return false;
  }
  if (batch === 1 || reply.body.includes(allAccepted)) {
    tally.records += batch;
    return true;
  }
  const parsed = JSON.parse(reply.body.toString('utf8')) as {
    FailedRecordCount?: number;
    Records?: { ErrorCode?: string; ErrorMessage?: string }[];
  };
  const failed = parsed.FailedRecordCount ?? 0;
  tally.failedRecords += failed;
  tally.records += batch - failed;
  const sample = parsed.Records?.find((r) => r.ErrorCode);
  if (sample && tally.errorSamples.length < 5)
    tally.errorSamples.push(`${sample.ErrorCode}: ${sample.ErrorMessage}`);
  return true;
}

// ---------------------------------------------------------------------------------------------

/** Open loop: `batch`-record requests on a fixed schedule from `start` to `deadline`, latency from
 * each request's scheduled send time; then waits (bounded) for what is in flight. */
async function runOpenLoop(
  spec: PutSpec,
  client: KinesisHttp,
  operation: string,
  bodies: string[],
  start: number,
  deadline: number,
  tally: Tally,
  latencies: number[],
): Promise<{ requests: number; dropped: number; end: number }> {
  const requestsPerSec = (spec.rate as number) / spec.batch;
  const interval = 1000 / requestsPerSec;
  const maxInFlight = spec.maxInFlight ?? 256;
  const inFlight = new Set<Promise<void>>();
  let requests = 0;
  let dropped = 0;
  let end = start;
  let scheduled = start;
  let i = 0;
  while (scheduled < deadline) {
    const now = performance.now();
    while (scheduled <= now && scheduled < deadline) {
      const at = scheduled;
      scheduled += interval;
      if (inFlight.size >= maxInFlight) {
        dropped++;
        continue;
      }
      const body = bodies[i++ % bodies.length] as string;
      requests++;
      const p: Promise<void> = putOnce(client, operation, body, spec.batch, tally).then((ok) => {
        const t1 = performance.now();
        // Measured from the scheduled send time: a server that falls behind is charged for the
        // queueing it causes (no coordinated omission).
        if (ok) latencies.push(t1 - at);
        end = Math.max(end, t1);
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    await sleep(Math.max(0, Math.min(5, scheduled - performance.now())));
  }
  // Wait for what is in flight, bounded; the unfinished count as dropped.
  const drainDeadline = performance.now() + 5_000;
  while (inFlight.size > 0 && performance.now() < drainDeadline) await sleep(5);
  dropped += inFlight.size;
  tally.stopping = true;
  return { requests, dropped, end };
}

async function put(spec: PutSpec): Promise<LoadResult> {
  const openLoop = spec.rate !== undefined;
  const sockets = openLoop ? Math.max(64, spec.callers) : spec.callers;
  const client = new KinesisHttp(spec.url, sockets);
  await ensureStream(client, spec.stream, spec.shards);
  const operation = spec.batch === 1 ? 'PutRecord' : 'PutRecords';
  const bodies = putBodies(spec.stream, spec.recordBytes, spec.batch, spec.batch === 1 ? 256 : 8);
  // Open the connections (and warm the server's code paths) with small requests before measuring.
  const warm = newTally();
  const warmBody = putBodies(spec.stream, spec.recordBytes, Math.min(spec.batch, 2), 1)[0] as string;
  await Promise.all(
    Array.from({ length: Math.min(sockets, 16) }, () =>
      putOnce(client, operation, warmBody, Math.min(spec.batch, 2), warm),
    ),
  );
  if (openLoop && spec.warmupSeconds) {
    // The same load, unmeasured, so that what is measured is every server's steady state (code
    // optimized, caches and files grown), not its first second.
    const at = performance.now();
    await runOpenLoop(spec, client, operation, bodies, at, at + spec.warmupSeconds * 1000, newTally(), []);
  }
  send({ type: 'ready', notes: [] });
  await go;

  const tally = newTally();
  const latencies: number[] = [];
  let requests = 0;
  let dropped = 0;
  const start = performance.now();
  const deadline = start + spec.seconds * 1000;
  let end = start;

  if (!openLoop) {
    let next = 0;
    await bounded(
      Array.from({ length: spec.callers }, async () => {
        while (performance.now() < deadline) {
          const body = bodies[next++ % bodies.length] as string;
          const t0 = performance.now();
          const ok = await putOnce(client, operation, body, spec.batch, tally);
          const t1 = performance.now();
          requests++;
          if (ok) {
            latencies.push(t1 - t0);
            end = t1;
          } else if (!tally.stopping) await sleep(10);
        }
      }),
      deadline + graceMs,
      client,
      tally,
    );
    if (tally.stopping) end = Math.max(end, deadline);
  } else {
    const run = await runOpenLoop(spec, client, operation, bodies, start, deadline, tally, latencies);
    requests = run.requests;
    dropped = run.dropped;
    end = run.end;
    tally.stopping = true;
  }
  client.close();
  // Open loop: up to the last answer, so a server that fell behind and answered during the
  // wait after the window is not credited with the rate it was asked for.
  const seconds = openLoop ? Math.max(spec.seconds, (end - start) / 1000) : (end - start) / 1000;
  const notes: string[] = [];
  if (tally.unfinished > 0) {
    notes.push(
      `${tally.unfinished} requests were still unanswered ${graceMs / 1000} s after the ${spec.seconds} s window and were cut off (not in the latencies)`,
    );
  }
  return {
    records: tally.records,
    bytes: tally.records * spec.recordBytes,
    requests,
    seconds,
    latency: summarize(latencies),
    errors: tally.errors,
    failedRecords: tally.failedRecords,
    errorSamples: tally.errorSamples,
    notes,
    ...(openLoop ? { dropped, targetRecordsPerSec: spec.rate } : {}),
  };
}

// ---------------------------------------------------------------------------------------------

/** Put `records` records of `recordBytes` with `callers` concurrent PutRecords of up to 500,
 * spread over `streams` round robin, within `budgetSeconds`. */
async function fill(
  client: KinesisHttp,
  streams: string[],
  records: number,
  recordBytes: number,
  callers: number,
  budgetSeconds: number,
): Promise<{ records: number; seconds: number; tally: Tally }> {
  const batch = Math.max(1, Math.min(500, Math.floor((4 * 1024 * 1024) / recordBytes)));
  const perStreamBodies = streams.length > 16 ? 1 : 4;
  const bodiesByStream = streams.map((s) => putBodies(s, recordBytes, batch, perStreamBodies));
  const tally = newTally();
  const start = performance.now();
  const deadline = start + budgetSeconds * 1000;
  let issued = 0;
  let n = 0;
  await bounded(
    Array.from({ length: callers }, async () => {
      while (issued < records && performance.now() < deadline) {
        const count = Math.min(batch, records - issued);
        issued += count;
        const k = n++;
        const stream = k % streams.length;
        let body = (bodiesByStream[stream] as string[])[
          Math.floor(k / streams.length) % perStreamBodies
        ] as string;
        if (count < batch) {
          const parsed = JSON.parse(body) as { Records: unknown[] };
          parsed.Records = parsed.Records.slice(0, count);
          body = JSON.stringify(parsed);
        }
        const before = tally.records;
        const ok = await putOnce(client, 'PutRecords', body, count, tally);
        const lost = count - (tally.records - before);
        if ((!ok || lost > 0) && !tally.stopping) {
          issued -= ok ? lost : count; // try those again
          await sleep(50);
        }
      }
    }),
    deadline + 10_000,
    client,
    tally,
  );
  return { records: tally.records, seconds: (performance.now() - start) / 1000, tally };
}

async function drain(spec: DrainSpec): Promise<LoadResult> {
  const client = new KinesisHttp(spec.url, Math.max(spec.fillCallers, spec.shards));
  await ensureStream(client, spec.stream, spec.shards);
  const filled = await fill(
    client,
    [spec.stream],
    spec.fillRecords,
    spec.recordBytes,
    spec.fillCallers,
    spec.fillBudgetSeconds,
  );
  const notes: string[] = [];
  if (filled.records < spec.fillRecords) {
    notes.push(
      `pre-fill stopped at its ${spec.fillBudgetSeconds} s budget: ${filled.records} of ${spec.fillRecords} records stored`,
    );
  }
  client.close();
  send({ type: 'ready', filled: { streams: 1, records: filled.records, seconds: filled.seconds }, notes });
  await go;
  const reader = new KinesisHttp(spec.url, spec.shards);

  const tally = newTally();
  const latencies: number[] = [];
  let requests = 0;
  let total = 0;
  const start = performance.now();
  const deadline = start + spec.seconds * 1000;
  const recordMarker = Buffer.from('"SequenceNumber":');
  let end = start;
  let throttled = 0;
  await bounded(
    Array.from({ length: spec.shards }, async (_, shard) => {
      const shardId = `shardId-${String(shard).padStart(12, '0')}`;
      let iterator: string | undefined;
      try {
        iterator = (
          await reader.json<{ ShardIterator: string }>('GetShardIterator', {
            StreamName: spec.stream,
            ShardId: shardId,
            ShardIteratorType: 'TRIM_HORIZON',
          })
        ).ShardIterator;
      } catch (error) {
        noteError(tally, String(error));
        return;
      }
      while (iterator && total < filled.records && performance.now() < deadline) {
        const t0 = performance.now();
        let reply: Awaited<ReturnType<KinesisHttp['call']>>;
        try {
          reply = await reader.call('GetRecords', JSON.stringify({ ShardIterator: iterator, Limit: 10_000 }));
        } catch (error) {
          noteError(tally, String(error));
          if (tally.stopping) break;
          await sleep(50);
          continue;
        }
        const t1 = performance.now();
        requests++;
        if (reply.status !== 200) {
          const text = reply.body.toString('utf8');
          if (text.includes('ProvisionedThroughputExceeded')) {
            throttled++;
            await sleep(100);
            continue;
          }
          noteError(tally, `${reply.status} ${text}`);
          break;
        }
        latencies.push(t1 - t0);
        end = t1;
        const count = countOccurrences(reply.body, recordMarker);
        total += count;
        iterator = stringField(reply.body, 'NextShardIterator');
        if (count === 0 && (numberField(reply.body, 'MillisBehindLatest') ?? 0) === 0) break;
      }
    }),
    deadline + graceMs,
    reader,
    tally,
  );
  if (tally.stopping) end = Math.max(end, deadline);
  reader.close();
  if (throttled > 0)
    notes.push(`${throttled} GetRecords calls were throttled (ProvisionedThroughputExceeded)`);
  if (total < filled.records)
    notes.push(`drained ${total} of ${filled.records} records within ${spec.seconds} s`);
  return {
    records: total,
    bytes: total * spec.recordBytes,
    requests,
    seconds: (end - start) / 1000,
    latency: summarize(latencies),
    errors: tally.errors,
    failedRecords: 0,
    errorSamples: tally.errorSamples,
    notes,
    filled: { streams: 1, records: filled.records, seconds: filled.seconds },
  };
}

// ---------------------------------------------------------------------------------------------

async function fillMany(spec: FillManySpec): Promise<LoadResult> {
  const client = new KinesisHttp(spec.url, spec.callers, 120_000);
  const start = performance.now();
  const deadline = start + spec.budgetSeconds * 1000;
  const names = Array.from({ length: spec.streams }, (_, i) => `start-${String(i).padStart(5, '0')}`);
  const notes: string[] = [];
  const created: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(spec.callers, 8) }, async () => {
      while (next < names.length && performance.now() < deadline) {
        const name = names[next++] as string;
        for (let attempt = 0; ; attempt++) {
          try {
            await ensureStream(client, name, 1, 60_000);
            created.push(name);
            break;
          } catch (error) {
            const limited = error instanceof KinesisCallError && error.type === 'LimitExceededException';
            if (!limited || attempt > 50 || performance.now() > deadline) throw error;
            await sleep(100); // peers limit concurrent CreateStream calls
          }
        }
      }
    }),
  );
  if (created.length < spec.streams) {
    notes.push(
      `created ${created.length} of ${spec.streams} streams within the ${spec.budgetSeconds} s budget`,
    );
  }
  const remaining = Math.max(1, (deadline - performance.now()) / 1000);
  const filled = await fill(client, created, spec.records, spec.recordBytes, spec.callers, remaining);
  if (filled.records < spec.records) {
    notes.push(
      `stored ${filled.records} of ${spec.records} records within the ${spec.budgetSeconds} s budget`,
    );
  }
  client.close();
  const seconds = (performance.now() - start) / 1000;
  send({ type: 'ready', notes });
  return {
    records: filled.records,
    bytes: filled.records * spec.recordBytes,
    requests: 0,
    seconds,
    latency: summarize([]),
    errors: filled.tally.errors,
    failedRecords: filled.tally.failedRecords,
    errorSamples: filled.tally.errorSamples,
    notes,
    filled: { streams: created.length, records: filled.records, seconds },
  };
}
