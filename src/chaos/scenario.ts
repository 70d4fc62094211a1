import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chaos as bounds } from '../limits.js';
import { parseDuration } from './duration.js';
import { compileRule, probabilityAt, type RuleSpec } from './rules.js';

/**
 * Scenarios: a timeline of fault rules in one JSON document, replayed at a chosen speed. A faults
 * file (`--faults FILE`) is the same document; a bare array of rules is accepted there too.
 *
 * ```json
 * { "name": "my-drill", "defaultSpeed": 60,
 *   "phases": [{ "name": "outage", "start": "0m", "end": "30m" }],
 *   "rules": [{ "streams": ["orders"], "start": "0m", "duration": "30m", "ramp": "5m",
 *               "probability": 0.9, "effect": { "type": "routing-unavailable" } }] }
 * ```
 */
export interface ScenarioDoc {
  name: string;
  title?: string;
  description?: string;
  source?: string;
  /** Replay speed when none is given: scenario time divided by this is wall time. */
  defaultSpeed?: number;
  phases?: Array<{ name: string; start: number | string; end: number | string; description?: string }>;
  rules: RuleSpec[];
}

const namePattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** Check a scenario document (its rules are checked as they would be loaded). */
export function checkScenario(raw: unknown, fallbackName = 'faults'): ScenarioDoc {
  const doc = (Array.isArray(raw) ? { name: fallbackName, rules: raw } : raw) as ScenarioDoc;
  if (typeof doc !== 'object' || doc === null) throw new Error('a scenario must be a JSON object');
  if (typeof doc.name !== 'string' || !namePattern.test(doc.name)) {
    throw new Error('a scenario needs a "name" of 1-64 letters, digits, _ . -');
  }
  if (!Array.isArray(doc.rules) || doc.rules.length === 0)
    throw new Error(`scenario ${doc.name} has no "rules"`);
  if (doc.rules.length > bounds.maxRules) {
    throw new Error(`scenario ${doc.name} has ${doc.rules.length} rules; at most ${bounds.maxRules}`);
  }
  if (doc.defaultSpeed !== undefined) checkSpeed(doc.defaultSpeed);
  doc.rules.forEach((rule, i) => {
    compileRule(rule, { id: `r${i + 1}`, baseMs: 0 });
  });
  for (const phase of doc.phases ?? []) {
    if (typeof phase?.name !== 'string') throw new Error(`scenario ${doc.name}: every phase needs a name`);
    parseDuration(phase.start, `phase ${phase.name} start`);
    parseDuration(phase.end, `phase ${phase.name} end`);
  }
  if ((doc.phases?.length ?? 0) > 50) throw new Error(`scenario ${doc.name}: at most 50 phases`);
  return doc;
}

function checkSpeed(speed: unknown): number {
  if (typeof speed !== 'number' || !Number.isFinite(speed) || speed <= 0 || speed > 1e7) {
    throw new Error('speed must be a number above 0 (and at most 10,000,000)');
  }
  return speed;
}

/** The folder of built-in scenarios (`scenarios/` at the top of the package). */
export function scenariosDir(): string {
  for (const relative of ['../../../scenarios/', '../../scenarios/']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  return fileURLToPath(new URL('../../../scenarios/', import.meta.url));
}

export function builtinScenarios(): string[] {
  try {
    return readdirSync(scenariosDir())
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .sort();
  } catch {
    return [];
  }
}

/** A scenario by built-in name (`nov-2020`) or by file path. */
export function readScenario(nameOrPath: string): ScenarioDoc {
  const builtin = namePattern.test(nameOrPath) && builtinScenarios().includes(nameOrPath);
  const path = builtin ? `${scenariosDir()}${nameOrPath}.json` : nameOrPath;
  if (!existsSync(path)) {
    throw new Error(
      `no scenario ${nameOrPath}: not a file, nor a built-in one (${builtinScenarios().join(', ') || 'none'})`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path} is not JSON: ${(error as Error).message}`);
  }
  return checkScenario(
    raw,
    nameOrPath
      .replace(/^.*\//, '')
      .replace(/\.json$/, '')
      .slice(0, 64) || 'faults',
  );
}

const failures = new Set(['error', 'routing-unavailable', 'reset', 'hang', 'partial', 'cut']);

/** A scenario ready to load: its speed, its rules (retargeted to streams if asked) and its
 * timeline in wall-clock ms from its start. */
export interface ScenarioPlan {
  name: string;
  title?: string;
  speed: number;
  rules: RuleSpec[];
  /** Wall ms from the start: first fault, last fault's end (= the scenario's end). */
  faultStartMs: number;
  faultEndMs: number;
  phases: Array<{ name: string; startMs: number; endMs: number; description?: string }>;
}

/**
 * Fix a scenario's speed (`speed`, or `durationMs` to fit its timeline into that wall time, or
 * its default) and optionally point every rule at `streams`. Scenario rules must end.
 */
export function planScenario(
  doc: ScenarioDoc,
  options: { speed?: number; durationMs?: number; streams?: string[] } = {},
): ScenarioPlan {
  const compiled = doc.rules.map((rule, i) => compileRule(rule, { id: `r${i + 1}`, baseMs: 0 }));
  for (const rule of compiled) {
    if (rule.endMs === undefined) throw new Error(`scenario ${doc.name}: rule ${rule.id} needs a duration`);
  }
  const start = Math.min(...compiled.map((r) => r.startMs));
  const end = Math.max(...compiled.map((r) => r.endMs ?? 0));
  let speed = options.speed ?? doc.defaultSpeed ?? 1;
  if (options.durationMs !== undefined) {
    if (!(options.durationMs > 0)) throw new Error('duration must be above 0');
    speed = end / options.durationMs;
  }
  checkSpeed(speed);
  if (end / speed > bounds.maxScenarioWallMs) {
    throw new Error(
      `scenario ${doc.name} would take ${Math.round(end / speed)} ms; at most ${bounds.maxScenarioWallMs}`,
    );
  }
  if (options.streams !== undefined && options.streams.length === 0) throw new Error('streams is empty');
  return {
    name: doc.name,
    title: doc.title,
    speed,
    rules: doc.rules.map((rule) => (options.streams ? { ...rule, streams: [...options.streams] } : rule)),
    faultStartMs: start / speed,
    faultEndMs: end / speed,
    phases: (doc.phases ?? []).map((p) => ({
      name: p.name,
      startMs: parseDuration(p.start, 'phase start') / speed,
      endMs: parseDuration(p.end, 'phase end') / speed,
      description: p.description,
    })),
  };
}

/**
 * How hard a scenario fails requests at a wall time (ms from its start): the highest probability
 * among its failing rules then (latency does not count; a partial failure counts its fraction).
 * A rehearsal calls the time when this is at least one half the scenario's heavy failure.
 */
export function intensityOf(plan: ScenarioPlan): (atMs: number) => number {
  const rules = plan.rules
    .map((rule, i) => compileRule(rule, { id: `r${i + 1}`, baseMs: 0, speed: plan.speed }))
    .filter((rule) => failures.has(rule.effect.type));
  return (atMs) => {
    let highest = 0;
    for (const rule of rules) {
      const weight = rule.effect.type === 'partial' ? rule.effect.fraction : 1;
      highest = Math.max(highest, probabilityAt(rule, atMs) * weight);
    }
    return highest;
  };
}
