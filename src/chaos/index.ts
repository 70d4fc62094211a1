import type { Engine } from '../engine/engine.js';
import type { FaultDecision, Outcome, RequestContext } from '../server/handler.js';
import { Dependents } from './dependents.js';
import { FaultEngine, seededRandom } from './faults.js';
import type { RuleView } from './rules.js';
import { checkScenario, planScenario, type ScenarioDoc } from './scenario.js';

export interface ChaosOptions {
  /** Rules (or a scenario document) to hold from the start: `--faults FILE`. */
  initial?: unknown;
  /** Seed for the fault draws (reproducible runs); Math.random without it. */
  seed?: number;
  now?: () => number;
}

/** A scenario being replayed: absolute server times (ms since the epoch). */
export interface ScenarioRun {
  name: string;
  title?: string;
  speed: number;
  startedMs: number;
  faultStartMs: number;
  faultEndMs: number;
  phases: Array<{ name: string; startMs: number; endMs: number; description?: string }>;
  rules: string[];
}

/**
 * Fault injection and the dependents map of one server: the handler's `faults` and
 * `onAnswered` hooks, and what the admin API drives.
 */
export class Chaos {
  readonly faults: FaultEngine;
  readonly dependents: Dependents;
  scenario: ScenarioRun | undefined;
  private readonly now: () => number;

  constructor(engine: Engine, options: ChaosOptions = {}) {
    this.now = options.now ?? Date.now;
    this.dependents = new Dependents(engine, this.now);
    this.faults = new FaultEngine({
      engine,
      now: this.now,
      random: options.seed === undefined ? undefined : seededRandom(options.seed),
      observer: {
        dropped: (context, kind) => this.dependents.dropped(context, kind),
        cut: (context) => this.dependents.cut(context),
      },
    });
    if (options.initial !== undefined) {
      const doc = checkScenario(options.initial);
      this.faults.add(doc.rules, { speed: doc.defaultSpeed });
    }
  }

  /** The handler's `faults` hook. */
  decide = (context: RequestContext): FaultDecision | undefined => this.faults.decide(context);

  /** The handler's `onAnswered` hook. */
  answered = (outcome: Outcome): void => this.dependents.answered(outcome);

  /**
   * Replay a scenario from now (or `startInMs` from now): its rules replace those of any earlier
   * scenario (rules added by hand stay), and the dependents map notes each caller's first
   * success after the scenario's end.
   */
  loadScenario(
    raw: unknown,
    options: { speed?: number; durationMs?: number; streams?: string[]; startInMs?: number } = {},
  ): { scenario: ScenarioRun; rules: RuleView[] } {
    const doc: ScenarioDoc = checkScenario(raw);
    const plan = planScenario(doc, options);
    const startedMs = this.now() + (options.startInMs ?? 0);
    this.faults.clear((rule) => rule.scenario !== undefined);
    const rules = this.faults.add(plan.rules, { baseMs: startedMs, speed: plan.speed, scenario: doc.name });
    this.scenario = {
      name: doc.name,
      title: doc.title,
      speed: plan.speed,
      startedMs,
      faultStartMs: startedMs + plan.faultStartMs,
      faultEndMs: startedMs + plan.faultEndMs,
      phases: plan.phases.map((p) => ({ ...p, startMs: startedMs + p.startMs, endMs: startedMs + p.endMs })),
      rules: rules.map((r) => r.id),
    };
    this.dependents.mark(this.scenario.faultEndMs);
    const ids = new Set(this.scenario.rules);
    return { scenario: this.scenario, rules: this.faults.list().filter((r) => ids.has(r.id)) };
  }

  /** Stop the running scenario: its rules go, its record stays until the next one. */
  stopScenario(): number {
    return this.faults.clear((rule) => rule.scenario !== undefined);
  }

  /** Remove every rule and forget the scenario. */
  clear(): number {
    this.scenario = undefined;
    this.dependents.mark(undefined);
    return this.faults.clear();
  }
}

export { Dependents, toDot, toMermaid, toTable } from './dependents.js';
export { FaultEngine } from './faults.js';
export type { RuleSpec } from './rules.js';
export { builtinScenarios, readScenario } from './scenario.js';
