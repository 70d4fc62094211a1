import type { Engine } from '../engine/engine.js';
import { chaos as bounds } from '../limits.js';
import type { Outcome, RequestContext } from '../server/handler.js';
import { type Caller, factsOf, type RequestFacts } from './request.js';

/**
 * The dependents map: every request attributed to a caller (access key id and user agent
 * product, or source address), and per stream who writes, who reads and who manages it, with
 * rates, error counts and when they were last seen. Bounded: at most `maxCallers` callers and
 * `maxEdges` stream-caller-role edges, the least recently seen evicted first.
 */

export type Role = 'writer' | 'reader' | 'control';

const roles: Record<string, Role> = {
  PutRecord: 'writer',
  PutRecords: 'writer',
  GetRecords: 'reader',
  GetShardIterator: 'reader',
  SubscribeToShard: 'reader',
};

/** Requests per second over a sliding window, in constant memory (two buckets). */
class RateMeter {
  private bucketStartMs = 0;
  private current = 0;
  private previous = 0;

  add(nowMs: number, n = 1): void {
    this.roll(nowMs);
    this.current += n;
  }

  perSecond(nowMs: number): number {
    this.roll(nowMs);
    const window = bounds.rateWindowMs;
    const elapsed = Math.min(1, (nowMs - this.bucketStartMs) / window);
    return (this.previous * (1 - elapsed) + this.current) / (window / 1000);
  }

  private roll(nowMs: number): void {
    const window = bounds.rateWindowMs;
    if (this.bucketStartMs === 0) this.bucketStartMs = nowMs;
    const buckets = Math.floor((nowMs - this.bucketStartMs) / window);
    if (buckets <= 0) return;
    this.previous = buckets === 1 ? this.current : 0;
    this.current = 0;
    this.bucketStartMs += buckets * window;
  }
}

interface Counts {
  requests: number;
  errors: number;
  /** Requests reset or left hanging by a fault (never answered). */
  dropped: number;
  /** Requests a fault rule decided (errors, drops, partial failures, cuts, added latency). */
  injected: number;
  /** Records in writes that were answered (written, or failed in place: `failedRecords`). */
  records: number;
  failedRecords: number;
  /** SubscribeToShard streams cut by a fault. */
  cuts: number;
  firstSeenMs: number;
  lastSeenMs: number;
  lastOkMs?: number;
  lastErrorMs?: number;
  lastErrorType?: string;
}

/**
 * How long a caller waits between an answer and its next request (its "think time"), summed
 * separately after successes and after errors: a caller that backs off waits longer after errors.
 * Measured from the answer's end to the next request's arrival, capped (an idle hour is not a
 * backoff); meaningful for callers with one request at a time, as most SDK loops are.
 */
interface Waits {
  waitAfterOkMs: number;
  waitsAfterOk: number;
  waitAfterErrorMs: number;
  waitsAfterError: number;
}

interface CallerEntry extends Counts, Waits {
  caller: Caller;
  /** When its last request was answered (or dropped), and whether it succeeded. */
  lastAnswerMs?: number;
  lastAnswerOk?: boolean;
  /** First successful answer at or after the mark (a scenario's end). */
  okAfterMarkMs?: number;
  requestAfterMarkMs?: number;
  rate: RateMeter;
  errorRate: RateMeter;
}

interface EdgeEntry extends Counts {
  stream: string;
  callerId: string;
  role: Role;
  operations: Record<string, number>;
  rate: RateMeter;
  errorRate: RateMeter;
}

const emptyCounts = (nowMs: number): Counts => ({
  requests: 0,
  errors: 0,
  dropped: 0,
  injected: 0,
  records: 0,
  failedRecords: 0,
  cuts: 0,
  firstSeenMs: nowMs,
  lastSeenMs: nowMs,
});

interface Event {
  ok: boolean;
  errorType?: string;
  dropped?: boolean;
  /** How long the request took (its arrival is its answer time minus this). */
  durationMs?: number;
}

export class Dependents {
  private readonly callers = new Map<string, CallerEntry>();
  private readonly edges = new Map<string, EdgeEntry>();
  private markMs: number | undefined;
  private readonly evicted = { callers: 0, edges: 0 };
  private readonly unattributed = { requests: 0, errors: 0 };

  constructor(
    private readonly engine: Engine,
    private readonly now: () => number = Date.now,
  ) {}

  /** The handler's `onAnswered` hook. */
  answered(outcome: Outcome): void {
    const context = outcome.context;
    if (!context) {
      // Refused before the request was parsed (admission, body, protocol): no caller to name.
      this.unattributed.requests++;
      if (outcome.status >= 400) this.unattributed.errors++;
      return;
    }
    // A request reset or left hanging was counted when the fault was decided; Node still reports
    // an HTTP/2 stream destroyed later as finished (status 200), which is not an answer.
    if (factsOf(this.engine, context).dropped) return;
    this.count(context, {
      ok: outcome.status < 400,
      errorType: outcome.errorType || undefined,
      durationMs: outcome.durationMs,
    });
  }

  /** A request a fault reset or left hanging: it never gets an answer, so `answered` never runs. */
  dropped(context: RequestContext, kind: 'reset' | 'hang'): void {
    factsOf(this.engine, context).dropped = true;
    this.count(context, {
      ok: false,
      errorType: kind === 'reset' ? 'ConnectionReset' : 'Hang',
      dropped: true,
    });
  }

  /** A subscription a fault cut short (counted apart from its request, which finishes later). */
  cut(context: RequestContext): void {
    const now = this.now();
    const facts = factsOf(this.engine, context);
    this.touchCaller(facts.caller, now).cuts++;
    if (facts.stream !== undefined) this.touchEdge(facts, context.operation, now).cuts++;
  }

  /** From now on, note each caller's first success (a rehearsal marks its scenario's end). */
  mark(atMs: number | undefined): void {
    this.markMs = atMs;
    for (const entry of this.callers.values()) {
      entry.okAfterMarkMs = undefined;
      entry.requestAfterMarkMs = undefined;
    }
  }

  reset(): void {
    this.callers.clear();
    this.edges.clear();
    this.evicted.callers = 0;
    this.evicted.edges = 0;
    this.unattributed.requests = 0;
    this.unattributed.errors = 0;
  }

  private count(context: RequestContext, event: Event): void {
    const now = this.now();
    const facts = factsOf(this.engine, context);
    const caller = this.touchCaller(facts.caller, now);
    update(caller, facts, event, now);
    noteWait(caller, now - (event.durationMs ?? 0), now, event.ok);
    caller.rate.add(now);
    if (!event.ok) caller.errorRate.add(now);
    if (this.markMs !== undefined && now >= this.markMs) {
      caller.requestAfterMarkMs ??= now;
      if (event.ok) caller.okAfterMarkMs ??= now;
    }
    if (facts.stream === undefined) return;
    const edge = this.touchEdge(facts, context.operation, now);
    update(edge, facts, event, now);
    edge.operations[context.operation] = (edge.operations[context.operation] ?? 0) + 1;
    edge.rate.add(now);
    if (!event.ok) edge.errorRate.add(now);
  }

  private touchCaller(caller: Caller, now: number): CallerEntry {
    let entry = this.callers.get(caller.id);
    if (entry) {
      this.callers.delete(caller.id);
    } else {
      entry = {
        ...emptyCounts(now),
        caller,
        waitAfterOkMs: 0,
        waitsAfterOk: 0,
        waitAfterErrorMs: 0,
        waitsAfterError: 0,
        rate: new RateMeter(),
        errorRate: new RateMeter(),
      };
      if (this.callers.size >= bounds.maxCallers) {
        const oldest = this.callers.keys().next().value;
        if (oldest !== undefined) this.callers.delete(oldest);
        this.evicted.callers++;
      }
    }
    this.callers.set(caller.id, entry);
    return entry;
  }

  private touchEdge(facts: RequestFacts, operation: string, now: number): EdgeEntry {
    const key = edgeKey(facts, operation);
    let entry = this.edges.get(key);
    if (entry) {
      this.edges.delete(key);
    } else {
      entry = {
        ...emptyCounts(now),
        stream: facts.stream ?? '',
        callerId: facts.caller.id,
        role: roles[operation] ?? 'control',
        operations: {},
        rate: new RateMeter(),
        errorRate: new RateMeter(),
      };
      if (this.edges.size >= bounds.maxEdges) {
        const oldest = this.edges.keys().next().value;
        if (oldest !== undefined) this.edges.delete(oldest);
        this.evicted.edges++;
      }
    }
    this.edges.set(key, entry);
    return entry;
  }

  /** Requests refused before they were parsed (no caller to name). */
  unattributedCounts(): { requests: number; errors: number } {
    return { ...this.unattributed };
  }

  /** Every caller with its totals (what a rehearsal samples). */
  callerViews(): CallerView[] {
    const now = this.now();
    return [...this.callers.values()].reverse().map((e) => ({
      id: e.caller.id,
      accessKeyId: e.caller.accessKeyId,
      product: e.caller.product,
      userAgent: e.caller.userAgent,
      sourceAddress: e.caller.sourceAddress,
      ...countsView(e),
      ratePerSec: round(e.rate.perSecond(now)),
      errorRatePerSec: round(e.errorRate.perSecond(now)),
      waitAfterOkMs: Math.round(e.waitAfterOkMs),
      waitsAfterOk: e.waitsAfterOk,
      waitAfterErrorMs: Math.round(e.waitAfterErrorMs),
      waitsAfterError: e.waitsAfterError,
      okAfterMarkMs: e.okAfterMarkMs,
      requestAfterMarkMs: e.requestAfterMarkMs,
    }));
  }

  /** The whole map: callers, and per stream its writers, readers and control-plane callers. */
  snapshot(): DependentsSnapshot {
    const now = this.now();
    const streams = new Map<string, StreamView>();
    for (const e of [...this.edges.values()].reverse()) {
      let view = streams.get(e.stream);
      if (!view) {
        view = { name: e.stream, writers: [], readers: [], control: [] };
        streams.set(e.stream, view);
      }
      const edge: EdgeView = {
        caller: e.callerId,
        role: e.role,
        operations: { ...e.operations },
        ...countsView(e),
        ratePerSec: round(e.rate.perSecond(now)),
        errorRatePerSec: round(e.errorRate.perSecond(now)),
      };
      (e.role === 'writer' ? view.writers : e.role === 'reader' ? view.readers : view.control).push(edge);
    }
    return {
      nowMs: now,
      markMs: this.markMs,
      limits: { maxCallers: bounds.maxCallers, maxEdges: bounds.maxEdges, rateWindowMs: bounds.rateWindowMs },
      evicted: { ...this.evicted },
      unattributed: { ...this.unattributed },
      callers: this.callerViews(),
      streams: [...streams.values()].sort((a, b) => a.name.localeCompare(b.name)),
    };
  }
}

function edgeKey(facts: RequestFacts, operation: string): string {
  return `${facts.stream}\u0000${facts.caller.id}\u0000${roles[operation] ?? 'control'}`;
}

/** The wait from the caller's previous answer to this request's arrival, then this answer. */
function noteWait(entry: CallerEntry, arrivalMs: number, answerMs: number, ok: boolean): void {
  if (entry.lastAnswerMs !== undefined) {
    const wait = Math.min(Math.max(0, arrivalMs - entry.lastAnswerMs), bounds.maxWaitMs);
    if (entry.lastAnswerOk) {
      entry.waitAfterOkMs += wait;
      entry.waitsAfterOk++;
    } else {
      entry.waitAfterErrorMs += wait;
      entry.waitsAfterError++;
    }
  }
  entry.lastAnswerMs = answerMs;
  entry.lastAnswerOk = ok;
}

function update(counts: Counts, facts: RequestFacts, event: Event, now: number): void {
  counts.requests++;
  counts.lastSeenMs = now;
  if (facts.injected !== undefined) counts.injected++;
  if (event.dropped) counts.dropped++;
  if (event.ok) {
    counts.lastOkMs = now;
    counts.records += facts.records;
    counts.failedRecords += facts.failedRecords ?? 0;
  } else {
    counts.errors++;
    counts.lastErrorMs = now;
    counts.lastErrorType = event.errorType;
  }
}

function countsView(c: Counts) {
  return {
    requests: c.requests,
    errors: c.errors,
    dropped: c.dropped,
    injected: c.injected,
    records: c.records,
    failedRecords: c.failedRecords,
    cuts: c.cuts,
    firstSeenMs: c.firstSeenMs,
    lastSeenMs: c.lastSeenMs,
    lastOkMs: c.lastOkMs,
    lastErrorMs: c.lastErrorMs,
    lastErrorType: c.lastErrorType,
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

type CountsView = ReturnType<typeof countsView>;

export interface CallerView extends CountsView {
  id: string;
  accessKeyId?: string;
  product: string;
  userAgent?: string;
  sourceAddress?: string;
  ratePerSec: number;
  errorRatePerSec: number;
  /** Total wait (ms) between an answer and the caller's next request, after successes and after
   * errors, and how many such waits. */
  waitAfterOkMs: number;
  waitsAfterOk: number;
  waitAfterErrorMs: number;
  waitsAfterError: number;
  okAfterMarkMs?: number;
  requestAfterMarkMs?: number;
}

export interface EdgeView extends CountsView {
  caller: string;
  role: Role;
  operations: Record<string, number>;
  ratePerSec: number;
  errorRatePerSec: number;
}

export interface StreamView {
  name: string;
  writers: EdgeView[];
  readers: EdgeView[];
  control: EdgeView[];
}

export interface DependentsSnapshot {
  nowMs: number;
  markMs?: number;
  limits: { maxCallers: number; maxEdges: number; rateWindowMs: number };
  evicted: { callers: number; edges: number };
  unattributed: { requests: number; errors: number };
  callers: CallerView[];
  streams: StreamView[];
}

// ---- exports -------------------------------------------------------------------------------

function edgeLabel(edge: EdgeView): string {
  const ops = Object.keys(edge.operations).sort().join(', ');
  const errors = edge.errors > 0 ? `, ${edge.errors} errors` : '';
  return `${ops} ${edge.ratePerSec}/s${errors}`;
}

/**
 * The map as a Mermaid flowchart: writers point at a stream, the stream points at its readers,
 * control-plane callers are dotted; everything connected to a stream is its blast radius.
 */
export function toMermaid(snapshot: DependentsSnapshot): string {
  const quote = (text: string) => `"${text.replace(/"/g, '#quot;')}"`;
  const lines = ['flowchart LR'];
  const callerIds = new Map<string, string>();
  const callerNode = (id: string) => {
    let node = callerIds.get(id);
    if (!node) {
      node = `c${callerIds.size}`;
      callerIds.set(id, node);
      lines.push(`  ${node}[${quote(id)}]`);
    }
    return node;
  };
  snapshot.streams.forEach((stream, i) => {
    const s = `s${i}`;
    lines.push(`  ${s}[(${quote(stream.name)})]`);
    for (const e of stream.writers) lines.push(`  ${callerNode(e.caller)} -->|${quote(edgeLabel(e))}| ${s}`);
    for (const e of stream.readers) lines.push(`  ${s} -->|${quote(edgeLabel(e))}| ${callerNode(e.caller)}`);
    for (const e of stream.control) lines.push(`  ${callerNode(e.caller)} -.->|${quote(edgeLabel(e))}| ${s}`);
  });
  return `${lines.join('\n')}\n`;
}

/** The map in Graphviz DOT: the same graph (`dot -Tsvg`). */
export function toDot(snapshot: DependentsSnapshot): string {
  const quote = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = ['digraph dependents {', '  rankdir=LR;', '  node [fontname="Helvetica"];'];
  const callers = new Set<string>();
  const caller = (id: string) => {
    if (!callers.has(id)) {
      callers.add(id);
      lines.push(`  ${quote(`caller:${id}`)} [label=${quote(id)}, shape=box];`);
    }
    return quote(`caller:${id}`);
  };
  for (const stream of snapshot.streams) {
    const s = quote(`stream:${stream.name}`);
    lines.push(`  ${s} [label=${quote(stream.name)}, shape=cylinder];`);
    const color = (e: EdgeView) => (e.errors > 0 ? ', color=red' : '');
    for (const e of stream.writers)
      lines.push(`  ${caller(e.caller)} -> ${s} [label=${quote(edgeLabel(e))}${color(e)}];`);
    for (const e of stream.readers)
      lines.push(`  ${s} -> ${caller(e.caller)} [label=${quote(edgeLabel(e))}${color(e)}];`);
    for (const e of stream.control) {
      lines.push(`  ${caller(e.caller)} -> ${s} [label=${quote(edgeLabel(e))}, style=dashed${color(e)}];`);
    }
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** The map as a plain text table per stream (`sluice dependents`). */
export function toTable(snapshot: DependentsSnapshot): string {
  if (snapshot.streams.length === 0 && snapshot.callers.length === 0) return 'no requests seen yet\n';
  const out: string[] = [];
  const ago = (ms: number) => `${Math.max(0, Math.round((snapshot.nowMs - ms) / 1000))}s ago`;
  for (const stream of snapshot.streams) {
    const callers = new Set([...stream.writers, ...stream.readers, ...stream.control].map((e) => e.caller));
    out.push(`stream ${stream.name}: ${callers.size} dependents`);
    for (const [title, edges] of [
      ['writers', stream.writers],
      ['readers', stream.readers],
      ['control', stream.control],
    ] as const) {
      for (const e of edges) {
        out.push(
          `  ${title.padEnd(8)} ${e.caller.padEnd(40)} ${String(e.ratePerSec).padStart(8)}/s ${String(e.requests).padStart(8)} req ${String(e.errors).padStart(6)} err  last ${ago(e.lastSeenMs)}`,
        );
      }
    }
  }
  const streamless = snapshot.callers.filter(
    (c) =>
      !snapshot.streams.some((s) =>
        [...s.writers, ...s.readers, ...s.control].some((e) => e.caller === c.id),
      ),
  );
  if (streamless.length > 0) {
    out.push('callers naming no stream:');
    for (const c of streamless)
      out.push(
        `  ${c.id.padEnd(49)} ${String(c.requests).padStart(8)} req ${String(c.errors).padStart(6)} err`,
      );
  }
  if (snapshot.evicted.callers + snapshot.evicted.edges > 0) {
    out.push(
      `(evicted as least recently seen: ${snapshot.evicted.callers} callers, ${snapshot.evicted.edges} edges)`,
    );
  }
  return `${out.join('\n')}\n`;
}
