import { knownOperations } from '../api/validation.js';
import { shardIdOf, shardIndexOf } from '../engine/hash.js';
import { chaos as bounds } from '../limits.js';
import { parseDuration } from './duration.js';
import { checkErrorSpec, internalFailureMessage, streamExceptions } from './errors.js';

/**
 * Fault rules: what they match, what they do, and when. The JSON form (`RuleSpec`) is what the
 * admin API, faults files and scenarios take; `compileRule` checks it and fixes its times.
 */

export type Effect =
  /** Answer this error instead of running the operation. */
  | { type: 'error'; error: string; message?: string; status?: number }
  /** Wait before running the operation: fixed `ms`, uniform in [minMs, maxMs], or normal. */
  | {
      type: 'latency';
      distribution?: 'fixed' | 'uniform' | 'normal';
      ms?: number;
      minMs?: number;
      maxMs?: number;
      meanMs?: number;
      stdDevMs?: number;
    }
  /** PutRecords: this fraction of the records fails in place (not written), the rest is written. */
  | {
      type: 'partial';
      fraction: number;
      errorCode?: 'ProvisionedThroughputExceededException' | 'InternalFailure';
    }
  /** Reset the connection (HTTP/1.1) or the stream (HTTP/2) without answering. */
  | { type: 'reset' }
  /** Never answer; the request is reset when the client gives up or after `maxMs`. */
  | { type: 'hang'; maxMs?: number }
  /** SubscribeToShard: cut the event stream after `afterMs` or `afterEvents` messages (the
   * initial response counts), by a reset or an exception event. */
  | {
      type: 'cut';
      afterMs?: number;
      afterEvents?: number;
      how?: 'reset' | 'error';
      error?: string;
      message?: string;
    }
  /** The stream cannot be routed (its shard map cannot be built): every call naming it fails
   * with InternalFailure (500) or, for `unavailableFraction` of them, ServiceUnavailable (503). */
  | { type: 'routing-unavailable'; unavailableFraction?: number };

export type EffectType = Effect['type'];

export interface RuleSpec {
  id?: string;
  description?: string;
  /** Operation names (the model's); none: every operation. */
  operations?: string[];
  /** Stream names, `*` matching any characters; none: any request, naming a stream or not. */
  streams?: string[];
  /** Shard ids (`shardId-000000000001`, `1`); none: any. */
  shards?: string[];
  accessKeyIds?: string[];
  /** Substrings of the User-Agent header; any of them matches. */
  userAgents?: string[];
  sourceAddresses?: string[];
  /** Chance a matching request is affected, 0..1 (default 1), reached at the end of the ramp. */
  probability?: number;
  /** When the rule starts, after it is added (or after its scenario starts). Default 0. */
  start?: number | string;
  /** How long it lasts; none: until removed. */
  duration?: number | string;
  /** The probability rises linearly from 0 over this time after the start. */
  ramp?: number | string;
  effect: Effect;
}

/** A checked rule with absolute times (server clock, ms since the epoch). */
export interface Rule {
  id: string;
  description?: string;
  scenario?: string;
  operations?: Set<string>;
  streams?: RegExp[];
  shards?: Set<number>;
  accessKeyIds?: Set<string>;
  userAgents?: string[];
  sourceAddresses?: Set<string>;
  probability: number;
  addedMs: number;
  startMs: number;
  endMs?: number;
  rampMs: number;
  effect: Effect;
  /** The spec as given, times in ms (for listing). */
  spec: RuleSpec;
  /** Requests that matched, and those the rule then affected (won the draw). */
  matched: number;
  hits: number;
}

const idPattern = /^[A-Za-z0-9_.:-]{1,64}$/;
let operationNames: Set<string> | undefined;

function stringList(value: unknown, what: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0 || v.length > 256)) {
    throw new Error(`${what} must be a list of non-empty strings`);
  }
  if (value.length === 0) return undefined;
  if (value.length > bounds.maxMatchEntries) {
    throw new Error(`${what} has ${value.length} entries; at most ${bounds.maxMatchEntries}`);
  }
  return value as string[];
}

function optionalNumber(value: unknown, what: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${what} must be a number from ${min} to ${max}`);
  }
  return value;
}

function span(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value, what);
  if (ms > bounds.maxRuleSpanMs) throw new Error(`${what} is longer than ${bounds.maxRuleSpanMs} ms`);
  return ms;
}

/** `orders-*` as a regular expression anchored at both ends. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** Check an effect and fill its defaults. */
export function checkEffect(raw: unknown, what: string): Effect {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${what} must be an object with a "type"`);
  const effect = raw as Record<string, unknown>;
  const latency = (key: string) => optionalNumber(effect[key], `${what}.${key}`, 0, bounds.maxLatencyMs);
  switch (effect.type) {
    case 'error': {
      const spec = { error: String(effect.error ?? ''), message: effect.message, status: effect.status } as {
        error: string;
        message?: string;
        status?: number;
      };
      checkErrorSpec(spec, what);
      return { type: 'error', ...spec };
    }
    case 'latency': {
      const distribution =
        (effect.distribution as string | undefined) ??
        (effect.meanMs !== undefined ? 'normal' : effect.minMs !== undefined ? 'uniform' : 'fixed');
      if (distribution === 'fixed') {
        const ms = latency('ms');
        if (ms === undefined) throw new Error(`${what}: a fixed latency needs "ms"`);
        return { type: 'latency', distribution, ms };
      }
      if (distribution === 'uniform') {
        const minMs = latency('minMs');
        const maxMs = latency('maxMs');
        if (minMs === undefined || maxMs === undefined || minMs > maxMs) {
          throw new Error(`${what}: a uniform latency needs "minMs" <= "maxMs"`);
        }
        return { type: 'latency', distribution, minMs, maxMs };
      }
      if (distribution === 'normal') {
        const meanMs = latency('meanMs');
        const stdDevMs = latency('stdDevMs');
        if (meanMs === undefined || stdDevMs === undefined) {
          throw new Error(`${what}: a normal latency needs "meanMs" and "stdDevMs"`);
        }
        return { type: 'latency', distribution, meanMs, stdDevMs };
      }
      throw new Error(`${what}: distribution must be fixed, uniform or normal`);
    }
    case 'partial': {
      const fraction = optionalNumber(effect.fraction, `${what}.fraction`, 0, 1);
      if (fraction === undefined) throw new Error(`${what}: a partial failure needs "fraction" (0..1)`);
      const errorCode = (effect.errorCode as string | undefined) ?? 'ProvisionedThroughputExceededException';
      if (errorCode !== 'ProvisionedThroughputExceededException' && errorCode !== 'InternalFailure') {
        throw new Error(
          `${what}: errorCode must be ProvisionedThroughputExceededException or InternalFailure`,
        );
      }
      return { type: 'partial', fraction, errorCode };
    }
    case 'reset':
      return { type: 'reset' };
    case 'hang':
      return {
        type: 'hang',
        maxMs: optionalNumber(effect.maxMs, `${what}.maxMs`, 0, bounds.maxHangMs) ?? bounds.defaultHangMs,
      };
    case 'cut': {
      const afterMs = optionalNumber(effect.afterMs, `${what}.afterMs`, 0, bounds.maxCutAfterMs);
      const afterEvents = optionalNumber(effect.afterEvents, `${what}.afterEvents`, 1, 1_000_000);
      const how = (effect.how as string | undefined) ?? 'error';
      if (how !== 'reset' && how !== 'error') throw new Error(`${what}: how must be reset or error`);
      const error = (effect.error as string | undefined) ?? 'InternalFailureException';
      if (!streamExceptions.has(error)) {
        throw new Error(
          `${what}: error must be one of the event stream's exceptions: ${[...streamExceptions].join(', ')}`,
        );
      }
      if (effect.message !== undefined && typeof effect.message !== 'string') {
        throw new Error(`${what}: message must be a string`);
      }
      return {
        type: 'cut',
        afterMs,
        afterEvents: afterEvents ?? (afterMs === undefined ? 2 : undefined),
        how,
        error,
        message: (effect.message as string | undefined) ?? internalFailureMessage,
      };
    }
    case 'routing-unavailable':
      return {
        type: 'routing-unavailable',
        unavailableFraction:
          optionalNumber(effect.unavailableFraction, `${what}.unavailableFraction`, 0, 1) ?? 0.5,
      };
    default:
      throw new Error(
        `${what}: type must be one of error, latency, partial, reset, hang, cut, routing-unavailable`,
      );
  }
}

/**
 * Check a rule spec and fix its times: `baseMs` is when its clock starts (now, or the scenario's
 * start); `speed` divides its start, duration and ramp (a scenario replayed faster).
 */
export function compileRule(
  raw: unknown,
  options: { id: string; baseMs: number; speed?: number; scenario?: string },
): Rule {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error('a rule must be an object');
  const spec = raw as RuleSpec;
  const what = `rule ${spec.id ?? options.id}`;
  const known = new Set([
    'id',
    'description',
    'operations',
    'streams',
    'shards',
    'accessKeyIds',
    'userAgents',
    'sourceAddresses',
    'probability',
    'start',
    'duration',
    'ramp',
    'effect',
  ]);
  for (const key of Object.keys(spec))
    if (!known.has(key)) throw new Error(`${what}: unknown field "${key}"`);
  const id = spec.id ?? options.id;
  if (typeof id !== 'string' || !idPattern.test(id)) {
    throw new Error(`${what}: id must be 1-64 letters, digits, _ . : -`);
  }
  if (
    spec.description !== undefined &&
    (typeof spec.description !== 'string' || spec.description.length > 1024)
  ) {
    throw new Error(`${what}: description must be a string of at most 1024 characters`);
  }
  const effect = checkEffect(spec.effect, `${what}: effect`);
  let operations = stringList(spec.operations, `${what}: operations`);
  operationNames ??= new Set(knownOperations());
  for (const op of operations ?? []) {
    if (!operationNames.has(op)) throw new Error(`${what}: ${op} is not a Kinesis operation`);
  }
  const only =
    effect.type === 'partial' ? 'PutRecords' : effect.type === 'cut' ? 'SubscribeToShard' : undefined;
  if (only !== undefined) {
    if (operations?.some((op) => op !== only)) {
      throw new Error(`${what}: a ${effect.type} effect applies to ${only} only`);
    }
    operations = [only];
  }
  const streams = stringList(spec.streams, `${what}: streams`);
  const shards = stringList(spec.shards, `${what}: shards`)?.map((id) => {
    const index = shardIndexOf(id);
    if (index === undefined) throw new Error(`${what}: ${id} is not a shard id`);
    return index;
  });
  const accessKeyIds = stringList(spec.accessKeyIds, `${what}: accessKeyIds`);
  const userAgents = stringList(spec.userAgents, `${what}: userAgents`);
  const sourceAddresses = stringList(spec.sourceAddresses, `${what}: sourceAddresses`);
  const probability = optionalNumber(spec.probability, `${what}: probability`, 0, 1) ?? 1;
  const speed = options.speed ?? 1;
  const start = span(spec.start, `${what}: start`) ?? 0;
  const duration = span(spec.duration, `${what}: duration`);
  const ramp = span(spec.ramp, `${what}: ramp`) ?? 0;
  const startMs = options.baseMs + start / speed;
  return {
    id,
    description: spec.description,
    scenario: options.scenario,
    operations: operations && new Set(operations),
    streams: streams?.map(globToRegExp),
    shards: shards && new Set(shards),
    accessKeyIds: accessKeyIds && new Set(accessKeyIds),
    userAgents,
    sourceAddresses: sourceAddresses && new Set(sourceAddresses),
    probability,
    addedMs: options.baseMs,
    startMs,
    endMs: duration === undefined ? undefined : startMs + duration / speed,
    rampMs: ramp / speed,
    effect,
    spec: {
      id,
      description: spec.description,
      operations,
      streams,
      shards: shards?.map(shardIdOf),
      accessKeyIds,
      userAgents,
      sourceAddresses,
      probability,
      start,
      duration,
      ramp,
      effect,
    },
    matched: 0,
    hits: 0,
  };
}

/** The chance a matching request is affected at `nowMs`: 0 outside the rule's time, rising
 * linearly over the ramp. */
export function probabilityAt(
  rule: Pick<Rule, 'startMs' | 'endMs' | 'rampMs' | 'probability'>,
  nowMs: number,
): number {
  if (nowMs < rule.startMs) return 0;
  if (rule.endMs !== undefined && nowMs >= rule.endMs) return 0;
  if (rule.rampMs > 0 && nowMs - rule.startMs < rule.rampMs) {
    return (rule.probability * (nowMs - rule.startMs)) / rule.rampMs;
  }
  return rule.probability;
}

export type RuleState = 'pending' | 'ramping' | 'active' | 'expired';

export function stateOf(rule: Rule, nowMs: number): RuleState {
  if (nowMs < rule.startMs) return 'pending';
  if (rule.endMs !== undefined && nowMs >= rule.endMs) return 'expired';
  if (rule.rampMs > 0 && nowMs - rule.startMs < rule.rampMs) return 'ramping';
  return 'active';
}

/** A rule as the admin API shows it. */
export function viewOf(rule: Rule, nowMs: number) {
  return {
    ...rule.spec,
    id: rule.id,
    scenario: rule.scenario,
    state: stateOf(rule, nowMs),
    probabilityNow: probabilityAt(rule, nowMs),
    startsAt: new Date(rule.startMs).toISOString(),
    endsAt: rule.endMs === undefined ? undefined : new Date(rule.endMs).toISOString(),
    startsAtMs: rule.startMs,
    endsAtMs: rule.endMs,
    rampMs: rule.rampMs,
    matched: rule.matched,
    hits: rule.hits,
  };
}

export type RuleView = ReturnType<typeof viewOf>;
