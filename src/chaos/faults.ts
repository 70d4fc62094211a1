import type { Engine } from '../engine/engine.js';
import { shardIdOf } from '../engine/hash.js';
import { messages } from '../engine/messages.js';
import { chaos as bounds } from '../limits.js';
import type { WireCodec } from '../protocol/codec.js';
import { KinesisError } from '../protocol/errors.js';
import { exceptionMessage } from '../protocol/eventstream.js';
import {
  type FaultDecision,
  isStreaming,
  type RequestContext,
  type StreamingOutput,
} from '../server/handler.js';
import type { Response } from '../server/listener.js';
import { buildError, knownErrors } from './errors.js';
import { factsOf, type RequestFacts, routesOf } from './request.js';
import { compileRule, probabilityAt, type Rule, type RuleView, viewOf } from './rules.js';

/** What the dependents map is told about requests that never get an answer, and cut streams. */
export interface FaultObserver {
  dropped(context: RequestContext, kind: 'reset' | 'hang'): void;
  cut(context: RequestContext): void;
}

export interface FaultEngineOptions {
  engine: Engine;
  /** Uniform in [0, 1); Math.random unless a seed is given. */
  random?: () => number;
  now?: () => number;
  observer?: FaultObserver;
}

/** A small seeded generator (mulberry32) for reproducible fault draws. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type EventCut = { type: string; message: string };

/**
 * The fault engine: holds the rules (bounded), and for every parsed request decides whether a
 * rule applies, through the handler's `faults` hook. Rules are checked in order; every latency
 * rule that wins its draw adds its delay, the first other rule that wins decides the answer.
 */
export class FaultEngine {
  private rules: Rule[] = [];
  private sequence = 0;
  private nextExpiryMs = Number.POSITIVE_INFINITY;
  private readonly random: () => number;
  readonly now: () => number;

  constructor(private readonly options: FaultEngineOptions) {
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  /**
   * Add rules, all or none (a bad one refuses them all). Times count from `baseMs` (default now),
   * divided by `speed` (scenarios).
   */
  add(specs: unknown[], options: { baseMs?: number; speed?: number; scenario?: string } = {}): Rule[] {
    const baseMs = options.baseMs ?? this.now();
    this.prune(this.now());
    if (this.rules.length + specs.length > bounds.maxRules) {
      throw new Error(
        `${specs.length} more rules would make ${this.rules.length + specs.length}; at most ${bounds.maxRules} are held`,
      );
    }
    const ids = new Set(this.rules.map((r) => r.id));
    const added: Rule[] = [];
    for (const spec of specs) {
      const rule = compileRule(spec, {
        id: `${options.scenario ? `${options.scenario}:` : ''}r${++this.sequence}`,
        baseMs,
        speed: options.speed,
        scenario: options.scenario,
      });
      if (ids.has(rule.id)) throw new Error(`rule ${rule.id} exists already`);
      ids.add(rule.id);
      added.push(rule);
    }
    this.rules.push(...added);
    this.updateExpiry();
    return added;
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    this.updateExpiry();
    return this.rules.length !== before;
  }

  /** Remove every rule, or those `which` selects; returns how many. */
  clear(which: (rule: Rule) => boolean = () => true): number {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => !which(r));
    this.updateExpiry();
    return before - this.rules.length;
  }

  list(): RuleView[] {
    const now = this.now();
    this.prune(now);
    return this.rules.map((rule) => viewOf(rule, now));
  }

  get size(): number {
    return this.rules.length;
  }

  /** The handler's `faults` hook. */
  decide(context: RequestContext): FaultDecision | undefined {
    const observe = this.observation(context);
    if (this.rules.length === 0) return observe;
    const now = this.now();
    if (now >= this.nextExpiryMs) this.prune(now);
    const facts = factsOf(this.options.engine, context);
    let delayMs = 0;
    let decisive: Rule | undefined;
    for (const rule of this.rules) {
      if (decisive && rule.effect.type !== 'latency') continue;
      const p = probabilityAt(rule, now);
      if (p <= 0 || !this.matches(rule, context, facts)) continue;
      rule.matched++;
      if (this.random() >= p) continue;
      rule.hits++;
      if (rule.effect.type === 'latency') delayMs += this.latency(rule.effect);
      else decisive = rule;
    }
    delayMs = Math.min(delayMs, bounds.maxLatencyMs);
    const decision: FaultDecision = { ...observe, ...(delayMs > 0 ? { delayMs } : {}) };
    if (decisive) {
      facts.injected = decisive.effect.type;
      Object.assign(decision, this.apply(decisive, context, facts, now, delayMs, observe?.mapOutput));
    }
    return decision.delayMs || decision.error || decision.drop || decision.mapOutput ? decision : undefined;
  }

  /** Without any fault: see PutRecords' failed records and keep live subscriptions reachable. */
  private observation(context: RequestContext): FaultDecision | undefined {
    if (context.operation === 'PutRecords') {
      return {
        mapOutput: (output) => {
          const failed = (output as { FailedRecordCount?: number }).FailedRecordCount ?? 0;
          factsOf(this.options.engine, context).failedRecords = failed;
          return output;
        },
      };
    }
    if (context.operation === 'SubscribeToShard') {
      return { mapOutput: (output) => this.wrapSubscription(context, output, undefined) };
    }
    return undefined;
  }

  private matches(rule: Rule, context: RequestContext, facts: RequestFacts): boolean {
    if (rule.operations && !rule.operations.has(context.operation)) return false;
    if (rule.effect.type === 'routing-unavailable' && facts.stream === undefined) return false;
    if (rule.streams) {
      const stream = facts.stream;
      if (stream === undefined || !rule.streams.some((re) => re.test(stream))) return false;
    }
    if (
      rule.accessKeyIds &&
      (context.accessKeyId === undefined || !rule.accessKeyIds.has(context.accessKeyId))
    ) {
      return false;
    }
    if (rule.userAgents) {
      const agent = context.userAgent ?? '';
      if (!rule.userAgents.some((part) => agent.includes(part))) return false;
    }
    if (rule.sourceAddresses) {
      const address = context.sourceAddress ?? '';
      const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
      if (!rule.sourceAddresses.has(address) && !rule.sourceAddresses.has(plain)) return false;
    }
    if (rule.shards) {
      const shards = this.isWrite(context) ? routesOf(this.options.engine, context) : (facts.shards ?? []);
      const wanted = rule.shards;
      if (!shards.some((s) => s !== undefined && wanted.has(s))) return false;
    }
    return true;
  }

  private isWrite(context: RequestContext): boolean {
    return context.operation === 'PutRecord' || context.operation === 'PutRecords';
  }

  private latency(effect: Extract<Rule['effect'], { type: 'latency' }>): number {
    let ms: number;
    if (effect.distribution === 'uniform') {
      const min = effect.minMs ?? 0;
      ms = min + this.random() * ((effect.maxMs ?? min) - min);
    } else if (effect.distribution === 'normal') {
      // Box-Muller; clamped at 0 (a latency is never negative).
      const u = 1 - this.random();
      const v = this.random();
      ms =
        (effect.meanMs ?? 0) +
        (effect.stdDevMs ?? 0) * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    } else {
      ms = effect.ms ?? 0;
    }
    return Math.max(0, Math.min(ms, bounds.maxLatencyMs));
  }

  private errorContext(context: RequestContext, facts: RequestFacts, now: number) {
    const shard = this.isWrite(context) ? routesOf(this.options.engine, context)[0] : facts.shards?.[0];
    return {
      operation: context.operation,
      account: this.options.engine.config.accountId,
      stream: facts.stream,
      shardId: shard === undefined ? undefined : shardIdOf(shard),
      iteratorIssuedMs: facts.iteratorIssuedMs,
      nowMs: now,
    };
  }

  private apply(
    rule: Rule,
    context: RequestContext,
    facts: RequestFacts,
    now: number,
    delayMs: number,
    observed: ((output: unknown) => unknown) | undefined,
  ): FaultDecision {
    const effect = rule.effect;
    switch (effect.type) {
      case 'error':
        return { error: buildError(effect, this.errorContext(context, facts, now)) };
      case 'routing-unavailable':
        return { error: routingError(this.random() < (effect.unavailableFraction ?? 0.5)) };
      case 'reset':
        this.options.observer?.dropped(context, 'reset');
        return { drop: 'reset' };
      case 'hang':
        this.hang(context, delayMs + (effect.maxMs ?? bounds.defaultHangMs));
        this.options.observer?.dropped(context, 'hang');
        return { drop: 'hang' };
      case 'partial':
        return { mapOutput: this.partial(rule, effect, context, facts, observed) };
      case 'cut':
        return {
          mapOutput: (output) =>
            this.wrapSubscription(context, output, {
              afterMs: effect.afterMs,
              afterEvents: effect.afterEvents,
              how: effect.how ?? 'error',
              event: { type: effect.error ?? 'InternalFailureException', message: effect.message ?? '' },
            }),
        };
      default:
        return {};
    }
  }

  /** A hung request is reset once the client has not given up within `ms`. */
  private hang(context: RequestContext, ms: number): void {
    const socket = context.req.socket as
      | { destroy(): void; once(event: 'close', listener: () => void): unknown }
      | undefined
      | null;
    if (!socket) return;
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  /**
   * PutRecords: take the failing records out of the request before it runs (they are not
   * written), then put failure entries back in their places in the answer.
   */
  private partial(
    rule: Rule,
    effect: Extract<Rule['effect'], { type: 'partial' }>,
    context: RequestContext,
    facts: RequestFacts,
    observed: ((output: unknown) => unknown) | undefined,
  ): (output: unknown) => unknown {
    const records = (context.input.Records as unknown[]) ?? [];
    const routes = routesOf(this.options.engine, context);
    const candidates: number[] = [];
    for (let i = 0; i < records.length; i++) {
      const shard = routes[i];
      if (!rule.shards || (shard !== undefined && rule.shards.has(shard))) candidates.push(i);
    }
    const count = Math.round(effect.fraction * candidates.length);
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(this.random() * (candidates.length - i));
      [candidates[i], candidates[j]] = [candidates[j] as number, candidates[i] as number];
    }
    const failing = new Set(candidates.slice(0, count));
    context.input.Records = records.filter((_, i) => !failing.has(i));
    const account = this.options.engine.config.accountId;
    const stream = facts.stream ?? '';
    return (output) => {
      const answer = output as { FailedRecordCount: number; Records: unknown[]; EncryptionType?: string };
      const written = answer.Records[Symbol.iterator]();
      const merged = records.map((_, i) => {
        if (!failing.has(i)) return written.next().value;
        return effect.errorCode === 'InternalFailure'
          ? { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal Service Failure' }
          : {
              ErrorCode: 'ProvisionedThroughputExceededException',
              ErrorMessage: messages.writeRateExceeded(shardIdOf(routes[i] ?? 0), stream, account),
            };
      });
      const result = {
        ...answer,
        FailedRecordCount: answer.FailedRecordCount + failing.size,
        Records: merged,
      };
      return observed ? observed(result) : result;
    };
  }

  /** The stream is down for a live subscription now: the exception event to end it with. */
  private routingDownFor(context: RequestContext): EventCut | undefined {
    if (this.rules.length === 0) return undefined;
    const now = this.now();
    const facts = factsOf(this.options.engine, context);
    for (const rule of this.rules) {
      if (rule.effect.type !== 'routing-unavailable') continue;
      const p = probabilityAt(rule, now);
      if (p <= 0 || !this.matches(rule, context, facts)) continue;
      if (this.random() < p) {
        rule.hits++;
        return {
          type: 'InternalFailureException',
          message: knownErrors.InternalFailure?.message(this.errorContext(context, facts, now)) ?? '',
        };
      }
    }
    return undefined;
  }

  /**
   * Wrap a SubscribeToShard answer: its events go through here, so the stream can be cut after a
   * time or a number of events, or when its stream's routing goes down while it is open.
   */
  private wrapSubscription(
    context: RequestContext,
    output: unknown,
    plan: { afterMs?: number; afterEvents?: number; how: 'reset' | 'error'; event: EventCut } | undefined,
  ): unknown {
    if (!isStreaming(output)) return output;
    const inner: StreamingOutput = output;
    return {
      streaming: true,
      start: (res: Response, codec: WireCodec) => {
        const sink = res as unknown as EventSink;
        const realWrite = sink.write.bind(sink);
        const realEnd = sink.end.bind(sink);
        const payloadType = codec.wire === 'json' ? 'application/json' : codec.responseContentType;
        let events = 0;
        let done = false;
        let timer: NodeJS.Timeout | undefined;
        const cut = (how: 'reset' | 'error', event: EventCut) => {
          if (done) return;
          done = true;
          if (timer) clearTimeout(timer);
          this.options.observer?.cut(context);
          if (how === 'reset') {
            sink.destroy();
            return;
          }
          const body = codec.encodeError(event.type, event.message || undefined, 'message');
          realWrite(
            exceptionMessage(event.type, payloadType, typeof body === 'string' ? Buffer.from(body) : body),
          );
          realEnd();
        };
        sink.write = (chunk: Uint8Array) => {
          if (done) return true;
          const down = events > 0 ? this.routingDownFor(context) : undefined;
          if (down) {
            cut('error', down);
            return true;
          }
          events++;
          const flushed = realWrite(chunk);
          if (plan?.afterEvents !== undefined && events >= plan.afterEvents) cut(plan.how, plan.event);
          return flushed;
        };
        sink.end = () => {
          if (done) return;
          done = true;
          if (timer) clearTimeout(timer);
          realEnd();
        };
        if (plan?.afterMs !== undefined) {
          timer = setTimeout(() => cut(plan.how, plan.event), plan.afterMs);
          timer.unref();
        }
        sink.once('close', () => {
          done = true;
          if (timer) clearTimeout(timer);
        });
        inner.start(res, codec);
      },
    } satisfies StreamingOutput;
  }

  private prune(now: number): void {
    if (now < this.nextExpiryMs) return;
    this.rules = this.rules.filter((r) => r.endMs === undefined || r.endMs > now);
    this.updateExpiry();
  }

  private updateExpiry(): void {
    this.nextExpiryMs = Number.POSITIVE_INFINITY;
    for (const r of this.rules)
      if (r.endMs !== undefined && r.endMs < this.nextExpiryMs) this.nextExpiryMs = r.endMs;
  }
}

/** The part of a response a subscription writes to. */
interface EventSink {
  write(chunk: Uint8Array): boolean;
  end(): void;
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

/**
 * What a client got from a frontend that could not build its shard map on 25 November 2020:
 * InternalFailure (500) or ServiceUnavailable (503), both retried by the SDKs (docs/chaos.md).
 */
function routingError(unavailable: boolean): KinesisError {
  const name = unavailable ? 'ServiceUnavailable' : 'InternalFailure';
  const known = knownErrors[name];
  return new KinesisError(
    name,
    known?.message({ operation: '', account: '', nowMs: 0 }) ?? '',
    known?.status,
  );
}
