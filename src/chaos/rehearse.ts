import { chaos as bounds } from '../limits.js';
import type { AdminClient } from './client.js';
import type { CallerView, DependentsSnapshot } from './dependents.js';
import { formatDuration } from './duration.js';
import type { ScenarioRun } from './index.js';
import { intensityOf, planScenario, type ScenarioDoc } from './scenario.js';

/**
 * `sluice rehearse`: replay a scenario against a running server through its admin API, sample
 * the dependents map while it runs, and tell for each caller how it behaved, from what the server
 * saw of it alone (no cooperation from the dependents):
 *
 * - its request rate before the faults (baseline), while failing hard (the "heavy" time, when
 *   the scenario's failure probability is at least 90% of its peak), and after the faults;
 * - whether error responses were followed by more requests (it retried);
 * - whether it backed off: after an error (while failing hard) it waited clearly longer before its
 *   next request than it waits after a success (before the faults) (the wait is measured from one answer to the caller's next request,
 *   so machine load does not blur it); for callers whose waits cannot be told (many requests in
 *   flight), whether its request rate while failing hard fell to at most half its baseline;
 * - whether it amplified the load: its rate while failing hard at least 1.5 times its baseline,
 *   or it waited less after errors than after successes; else it kept its pace;
 * - silences, and whether it went silent and never came back (gave up);
 * - how long after the faults ended its first success came (the server notes it exactly), and
 *   when its successful request rate was back to half its baseline;
 * - a burst of records written once the failures eased (a backlog being flushed).
 */

/** Thresholds of the classification (reported with every rehearsal). */
export const thresholds = {
  /** The scenario's failure probability is at least this share of its peak: heavy failure. */
  heavyShareOfPeak: 0.9,
  /** Requests after the first error, still within the faults, that make it "retried". */
  retriedRequests: 2,
  /** Mean wait after errors during the faults / mean wait after successes before them: at least
   * this is backing off. */
  backedOffWaitFactor: 2,
  /** ... at most this is retrying faster than its normal pace. */
  hastyWaitFactor: 0.5,
  /** Waits needed on each side to compare them. */
  minWaits: 3,
  /** Rate while failing / baseline rate (when waits cannot be compared): at most this is backing off. */
  backedOffRatio: 0.5,
  /** ... at least this is amplifying the load. */
  amplifiedRatio: 1.5,
  /** Silent for at least this share of the heavy time: it stopped calling (waited it out). */
  silenceShareOfHeavy: 0.75,
  /** Peak written records per second / baseline: at least this is a catch-up burst. */
  burstRatio: 2,
  /** A successful rate back to this share of the baseline is "back to normal". */
  normalRatio: 0.5,
  /** Rates for bursts and back-to-normal are measured over windows of this length. */
  rateWindowMs: 1_000,
} as const;

export type Behaviour =
  | 'unaffected'
  | 'backed-off'
  | 'amplified'
  | 'kept-pace'
  | 'stopped-calling'
  | 'gave-up'
  | 'did-not-recover';

interface Window {
  requests: number;
  errors: number;
  durationMs: number;
  ratePerSec: number;
}

export interface DependentReport {
  caller: string;
  accessKeyId?: string;
  product: string;
  /** `stream (role)` for each stream it used during the rehearsal's last snapshot. */
  streams: string[];
  before: Window & { recordsPerSec: number };
  faults: Window & { errorRatio: number };
  heavy: Window & { errorRatio: number };
  after: Window;
  retried: boolean;
  /** Rate while failing hard / baseline rate (null without a baseline). */
  loadRatio: number | null;
  /** Mean wait (ms) between a successful answer and its next request, before the faults. */
  waitAfterOkMs: number | null;
  /** Mean wait (ms) between an error and its next request, while failing hard (or during the
   * faults, when too few waits fall there). */
  waitAfterErrorMs: number | null;
  /** waitAfterErrorMs / waitAfterOkMs (null when either has too few waits). */
  waitFactor: number | null;
  backedOff: boolean;
  amplified: boolean;
  /** Longest time without a request during the faults. */
  longestSilenceMs: number;
  gaveUp: boolean;
  recovered: boolean;
  /** First success after the faults ended, from their end. */
  recoveryMs: number | null;
  /** When its successful request rate was back to half its baseline, from the faults' end. */
  backToNormalMs: number | null;
  /** Peak written records per second once failures eased / its baseline records per second. */
  burstRatio: number | null;
  catchUpBurst: boolean;
  behaviour: Behaviour;
  verdict: string;
}

export interface RehearsalReport {
  scenario: {
    name: string;
    title?: string;
    speed: number;
    phases: Array<{ name: string; startMs: number; endMs: number; description?: string }>;
  };
  /** Wall ms from the first sample. */
  timeline: {
    baselineMs: number;
    faultStartMs: number;
    faultEndMs: number;
    heavyMs: number;
    endMs: number;
    sampleMs: number;
    samples: number;
  };
  thresholds: typeof thresholds;
  dependents: DependentReport[];
  notes: string[];
}

/** Cumulative counters of each caller, sampled at the same times. */
export class Recorder {
  readonly times: number[] = [];
  readonly series = new Map<string, Series>();
  ignored = 0;

  add(nowMs: number, callers: CallerView[]): void {
    if (this.times.length >= bounds.rehearseMaxSamples) return;
    const index = this.times.length;
    this.times.push(nowMs);
    const seen = new Set<string>();
    for (const c of callers) {
      let s = this.series.get(c.id);
      if (!s) {
        if (this.series.size >= bounds.rehearseMaxCallers) {
          this.ignored++;
          continue;
        }
        // First seen after the first sample: a new caller (or one evicted and counted again
        // from zero), so it had made no requests before.
        s = {
          view: c,
          requests: [],
          errors: [],
          written: [],
          waitOk: [],
          waitsOk: [],
          waitError: [],
          waitsError: [],
        };
        for (const key of seriesKeys) s[key] = new Array(index).fill(0);
        this.series.set(c.id, s);
      }
      s.view = c;
      const values = valuesOf(c);
      for (const key of seriesKeys) s[key].push(values[key]);
      seen.add(c.id);
    }
    for (const [id, s] of this.series) {
      if (seen.has(id)) continue;
      // Evicted from the map meanwhile: keep its last values.
      for (const key of seriesKeys) s[key].push(s[key].at(-1) ?? 0);
    }
  }
}

interface Series {
  view: CallerView;
  requests: number[];
  errors: number[];
  written: number[];
  waitOk: number[];
  waitsOk: number[];
  waitError: number[];
  waitsError: number[];
}

const seriesKeys = ['requests', 'errors', 'written', 'waitOk', 'waitsOk', 'waitError', 'waitsError'] as const;

function valuesOf(c: CallerView): Record<(typeof seriesKeys)[number], number> {
  return {
    requests: c.requests,
    errors: c.errors,
    written: c.records - c.failedRecords,
    waitOk: c.waitAfterOkMs,
    waitsOk: c.waitsAfterOk,
    waitError: c.waitAfterErrorMs,
    waitsError: c.waitsAfterError,
  };
}

/** What classification needs to know of the run (server clock, ms since the epoch). */
export interface RunWindow {
  scenarioStartMs: number;
  faultStartMs: number;
  faultEndMs: number;
  endMs: number;
  /** How hard the scenario fails requests at a time (ms from the scenario's start). */
  intensity: (atMs: number) => number;
}

/** Sample intervals (index pairs) while the scenario fails hard: at least `heavyShareOfPeak` of
 * its highest failure probability. */
function heavyIntervals(times: number[], run: RunWindow): Array<[number, number]> {
  const mids: Array<[number, number]> = [];
  let peak = 0;
  for (let i = 0; i + 1 < times.length; i++) {
    const mid = ((times[i] as number) + (times[i + 1] as number)) / 2;
    if (mid < run.faultStartMs || mid >= run.faultEndMs) continue;
    const p = run.intensity(mid - run.scenarioStartMs);
    peak = Math.max(peak, p);
    mids.push([i, p]);
  }
  if (peak <= 0) return [];
  return mids.filter(([, p]) => p >= peak * thresholds.heavyShareOfPeak).map(([i]) => [i, i + 1]);
}

/** The index of the last sample at or before `t` (-1 if none). */
function indexAt(times: number[], t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] ?? 0) <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

const at = (values: number[], i: number) => (i < 0 ? (values[0] ?? 0) : (values[i] ?? 0));
const perSec = (n: number, ms: number) => (ms > 0 ? (n * 1000) / ms : 0);
const round2 = (n: number) => Math.round(n * 100) / 100;

function windowOf(times: number[], s: Series, fromMs: number, toMs: number): Window {
  const a = indexAt(times, fromMs);
  const b = indexAt(times, toMs);
  const startMs = times[Math.max(a, 0)] ?? fromMs;
  const endMs = times[Math.max(b, 0)] ?? toMs;
  const requests = at(s.requests, b) - at(s.requests, a);
  const errors = at(s.errors, b) - at(s.errors, a);
  const durationMs = Math.max(0, endMs - startMs);
  return { requests, errors, durationMs, ratePerSec: round2(perSec(requests, durationMs)) };
}

/** Classify every caller that made requests during the rehearsal. */
export function classify(
  recorder: Recorder,
  run: RunWindow,
  snapshot?: DependentsSnapshot,
): DependentReport[] {
  const times = recorder.times;
  const first = times[0] ?? run.faultStartMs;
  const heavy = heavyIntervals(times, run);
  const reports: DependentReport[] = [];
  for (const [id, s] of recorder.series) {
    const total = (s.requests.at(-1) ?? 0) - (s.requests[0] ?? 0);
    if (total === 0) continue;
    const before = windowOf(times, s, first, run.faultStartMs);
    const beforeWritten = at(s.written, indexAt(times, run.faultStartMs)) - at(s.written, 0);
    const faults = windowOf(times, s, run.faultStartMs, run.faultEndMs);
    const after = windowOf(times, s, run.faultEndMs, run.endMs);
    const heavyWindow = heavyOf(times, s, heavy, faults);
    const beforeRate = before.durationMs > 0 ? before.requests / before.durationMs : undefined;
    const loadRatio =
      beforeRate && beforeRate > 0
        ? round2(heavyWindow.requests / heavyWindow.durationMs / beforeRate)
        : null;
    const retried = retriedWithin(times, s, run);
    const waitAfterOkMs = meanWait(times, s.waitOk, s.waitsOk, first, run.faultStartMs);
    const waitAfterErrorMs =
      heavyWait(s, heavy) ?? meanWait(times, s.waitError, s.waitsError, run.faultStartMs, run.faultEndMs);
    const waitFactor =
      waitAfterOkMs !== null && waitAfterErrorMs !== null && waitAfterOkMs >= 1
        ? round2(waitAfterErrorMs / waitAfterOkMs)
        : null;
    const backedOff =
      retried &&
      (waitFactor !== null
        ? waitFactor >= thresholds.backedOffWaitFactor
        : loadRatio !== null && loadRatio <= thresholds.backedOffRatio);
    const amplified =
      retried &&
      !backedOff &&
      ((loadRatio ?? 1) >= thresholds.amplifiedRatio || (waitFactor ?? 1) <= thresholds.hastyWaitFactor);
    const longestSilenceMs = longestSilence(times, s, run.faultStartMs, run.faultEndMs);
    const okAfter = s.view.okAfterMarkMs;
    const recovered = okAfter !== undefined && okAfter !== null;
    const gaveUp = faults.errors > 0 && after.requests === 0 && !recovered;
    const heavyEndMs =
      heavy.length > 0 ? (times[(heavy.at(-1) as [number, number])[1]] as number) : run.faultStartMs;
    const beforeRecordsPerSec = perSec(beforeWritten, before.durationMs);
    const peak = peakRate(times, s.written, heavyEndMs, run.endMs);
    const burstRatio =
      beforeRecordsPerSec > 0 && peak !== undefined ? round2(peak / beforeRecordsPerSec) : null;
    const report: DependentReport = {
      caller: id,
      accessKeyId: s.view.accessKeyId,
      product: s.view.product,
      streams: streamsOf(snapshot, id),
      before: { ...before, recordsPerSec: round2(beforeRecordsPerSec) },
      faults: { ...faults, errorRatio: ratio(faults.errors, faults.requests) },
      heavy: { ...heavyWindow, errorRatio: ratio(heavyWindow.errors, heavyWindow.requests) },
      after,
      retried,
      loadRatio,
      waitAfterOkMs: waitAfterOkMs === null ? null : Math.round(waitAfterOkMs),
      waitAfterErrorMs: waitAfterErrorMs === null ? null : Math.round(waitAfterErrorMs),
      waitFactor,
      backedOff,
      amplified,
      longestSilenceMs: Math.round(longestSilenceMs),
      gaveUp,
      recovered,
      recoveryMs: recovered ? Math.max(0, Math.round((okAfter as number) - run.faultEndMs)) : null,
      backToNormalMs: backToNormal(times, s, run.faultEndMs, beforeRate),
      burstRatio,
      catchUpBurst: burstRatio !== null && burstRatio >= thresholds.burstRatio,
      behaviour: 'unaffected',
      verdict: '',
    };
    [report.behaviour, report.verdict] = verdictOf(report);
    reports.push(report);
  }
  return reports.sort((a, b) => a.caller.localeCompare(b.caller));
}

function heavyOf(times: number[], s: Series, heavy: Array<[number, number]>, faults: Window): Window {
  if (heavy.length === 0) return faults;
  let requests = 0;
  let errors = 0;
  let durationMs = 0;
  for (const [a, b] of heavy) {
    requests += at(s.requests, b) - at(s.requests, a);
    errors += at(s.errors, b) - at(s.errors, a);
    durationMs += (times[b] as number) - (times[a] as number);
  }
  return { requests, errors, durationMs, ratePerSec: round2(perSec(requests, durationMs)) };
}

/** Mean wait over a window from the cumulative total and count (null with too few waits). */
function meanWait(
  times: number[],
  total: number[],
  count: number[],
  fromMs: number,
  toMs: number,
): number | null {
  const a = indexAt(times, fromMs);
  const b = indexAt(times, toMs);
  const n = at(count, b) - at(count, a);
  return n >= thresholds.minWaits ? (at(total, b) - at(total, a)) / n : null;
}

/** Mean wait after errors over the heavy intervals (null with too few waits). */
function heavyWait(s: Series, heavy: Array<[number, number]>): number | null {
  let total = 0;
  let n = 0;
  for (const [a, b] of heavy) {
    total += at(s.waitError, b) - at(s.waitError, a);
    n += at(s.waitsError, b) - at(s.waitsError, a);
  }
  return n >= thresholds.minWaits ? total / n : null;
}

const ratio = (part: number, whole: number) => (whole > 0 ? round2(part / whole) : 0);

/** Error responses followed by more requests while the faults last. */
function retriedWithin(times: number[], s: Series, run: RunWindow): boolean {
  const from = Math.max(indexAt(times, run.faultStartMs), 0);
  const to = indexAt(times, run.faultEndMs);
  for (let i = from; i < to; i++) {
    if (at(s.errors, i + 1) > at(s.errors, i)) {
      return at(s.requests, to) - at(s.requests, i + 1) >= thresholds.retriedRequests;
    }
  }
  return false;
}

function longestSilence(times: number[], s: Series, fromMs: number, toMs: number): number {
  let longest = 0;
  let quietSince: number | undefined;
  const from = Math.max(indexAt(times, fromMs), 0);
  const to = indexAt(times, toMs);
  for (let i = from; i < to; i++) {
    const quiet = at(s.requests, i + 1) === at(s.requests, i);
    if (quiet) {
      quietSince ??= times[i] as number;
      longest = Math.max(longest, (times[i + 1] as number) - quietSince);
    } else quietSince = undefined;
  }
  return longest;
}

/** Highest rate of a counter over windows of `thresholds.rateWindowMs` in [fromMs, toMs]. */
function peakRate(times: number[], values: number[], fromMs: number, toMs: number): number | undefined {
  let peak: number | undefined;
  let j = 0;
  const from = Math.max(indexAt(times, fromMs), 0);
  const to = indexAt(times, toMs);
  for (let i = from; i < to; i++) {
    j = Math.max(j, i + 1);
    while (j < to && (times[j] as number) - (times[i] as number) < thresholds.rateWindowMs) j++;
    const span = (times[j] as number) - (times[i] as number);
    if (span < thresholds.rateWindowMs / 2) break;
    const rate = perSec(at(values, j) - at(values, i), span);
    peak = Math.max(peak ?? 0, rate);
  }
  return peak;
}

/** First time after the faults when its successful rate over a window reaches half its baseline. */
function backToNormal(
  times: number[],
  s: Series,
  faultEndMs: number,
  beforeRate: number | undefined,
): number | null {
  if (!beforeRate) return null;
  const target = beforeRate * thresholds.normalRatio;
  const from = Math.max(indexAt(times, faultEndMs), 0);
  let j = from;
  for (let i = from; i < times.length - 1; i++) {
    j = Math.max(j, i + 1);
    while (j < times.length - 1 && (times[j] as number) - (times[i] as number) < thresholds.rateWindowMs) j++;
    const span = (times[j] as number) - (times[i] as number);
    if (span <= 0) break;
    const ok = at(s.requests, j) - at(s.requests, i) - (at(s.errors, j) - at(s.errors, i));
    if (ok / span >= target) return Math.max(0, Math.round((times[i] as number) - faultEndMs));
  }
  return null;
}

function streamsOf(snapshot: DependentsSnapshot | undefined, caller: string): string[] {
  const out: string[] = [];
  for (const stream of snapshot?.streams ?? []) {
    for (const [role, edges] of [
      ['writer', stream.writers],
      ['reader', stream.readers],
      ['control', stream.control],
    ] as const) {
      if (edges.some((e) => e.caller === caller)) out.push(`${stream.name} (${role})`);
    }
  }
  return out;
}

function verdictOf(r: DependentReport): [Behaviour, string] {
  const recovery =
    r.recoveryMs === null ? '' : `; first success ${formatDuration(r.recoveryMs)} after the faults ended`;
  const load = [
    r.waitFactor === null
      ? ''
      : `waited ${r.waitFactor}x its normal time before calling again after an error`,
    r.loadRatio === null ? '' : `${r.loadRatio}x its normal request rate while failing hard`,
  ]
    .filter(Boolean)
    .join(', ');
  const loadText = load ? ` (${load})` : '';
  const burst = r.catchUpBurst ? `, then a catch-up burst (${r.burstRatio}x its normal record rate)` : '';
  if (r.faults.errors === 0 && r.after.errors === 0) {
    return [
      'unaffected',
      r.faults.requests === 0 ? 'no request failed (it was quiet during the faults)' : 'no request failed',
    ];
  }
  if (r.gaveUp) {
    return [
      'gave-up',
      `gave up: silent after its errors and not back ${formatDuration(r.after.durationMs)} after the faults ended`,
    ];
  }
  if (!r.recovered) {
    return [
      'did-not-recover',
      `no success in the ${formatDuration(r.after.durationMs)} after the faults ended`,
    ];
  }
  const silent = r.longestSilenceMs >= r.heavy.durationMs * thresholds.silenceShareOfHeavy;
  if (!r.retried || silent) {
    return [
      'stopped-calling',
      `stopped calling while failing (silent ${formatDuration(r.longestSilenceMs)}) and came back${recovery}`,
    ];
  }
  if (r.backedOff) return ['backed-off', `retried with backoff${loadText}${burst}${recovery}`];
  if (r.amplified) return ['amplified', `retried without backing off${loadText}${burst}${recovery}`];
  return ['kept-pace', `retried at about its normal pace${loadText}${burst}${recovery}`];
}

// ---- the run ---------------------------------------------------------------------------------

export interface RehearseOptions {
  admin: AdminClient;
  scenario: ScenarioDoc;
  speed?: number;
  /** Fit the scenario's timeline into this wall time (instead of a speed). */
  durationMs?: number;
  streams?: string[];
  baselineMs?: number;
  observeMs?: number;
  sampleMs?: number;
  log?: (line: string) => void;
}

const clamp = (n: number, min: number, max: number) => Math.min(max, Math.max(min, n));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Replay the scenario against the server behind `admin`, and report on every dependent. */
export async function rehearse(options: RehearseOptions): Promise<RehearsalReport> {
  const { admin } = options;
  const log = options.log ?? (() => {});
  const plan = planScenario(options.scenario, {
    speed: options.speed,
    durationMs: options.durationMs,
    streams: options.streams,
  });
  const wallMs = plan.faultEndMs;
  const baselineMs =
    options.baselineMs ??
    clamp(
      wallMs * bounds.rehearseBaselineFraction,
      bounds.rehearseMinBaselineMs,
      bounds.rehearseMaxBaselineMs,
    );
  const observeMs =
    options.observeMs ??
    clamp(wallMs * bounds.rehearseObserveFraction, bounds.rehearseMinObserveMs, bounds.rehearseMaxObserveMs);
  const sampleMs = Math.max(
    options.sampleMs ?? 0,
    bounds.rehearseMinSampleMs,
    Math.ceil((baselineMs + wallMs + observeMs) / (bounds.rehearseMaxSamples - 10)),
  );
  const recorder = new Recorder();
  let nowMs = 0;
  const sample = async () => {
    const view = await admin.call<{ nowMs: number; callers: CallerView[] }>(
      'GET',
      '/dependents?view=callers',
    );
    recorder.add(view.nowMs, view.callers);
    nowMs = view.nowMs;
  };
  const sampleUntil = async (untilMs: number) => {
    while (nowMs < untilMs) {
      await sleep(Math.max(1, Math.min(sampleMs, untilMs - nowMs)));
      await sample();
    }
  };

  log(
    `rehearsing ${plan.name} at ${round2(plan.speed)}x: ${formatDuration(baselineMs)} baseline, ` +
      `${formatDuration(wallMs)} of faults, ${formatDuration(observeMs)} after`,
  );
  await sample();
  const firstMs = nowMs;
  await sampleUntil(firstMs + baselineMs);
  const loaded = await admin.call<{ scenario: ScenarioRun }>('POST', '/scenarios', {
    scenario: options.scenario,
    speed: plan.speed,
    streams: options.streams,
  });
  const run = loaded.scenario;
  log(`scenario ${run.name} started (${run.rules.length} rules)`);
  let snapshot: DependentsSnapshot;
  try {
    for (const phase of run.phases) {
      await sampleUntil(phase.startMs);
      log(`phase: ${phase.name}`);
    }
    await sampleUntil(run.faultEndMs);
    log('faults ended; observing recovery');
    await sampleUntil(run.faultEndMs + observeMs);
    snapshot = await admin.call<DependentsSnapshot>('GET', '/dependents');
  } catch (error) {
    // Do not leave the faults running on the server when the rehearsal cannot finish.
    await admin.call('DELETE', '/scenarios').catch(() => {});
    throw error;
  }

  const intensity = intensityOf(plan);
  const window: RunWindow = {
    scenarioStartMs: run.startedMs,
    faultStartMs: run.faultStartMs,
    faultEndMs: run.faultEndMs,
    endMs: nowMs,
    intensity,
  };
  const dependents = classify(recorder, window, snapshot);
  const heavyMs = heavyDuration(recorder.times, window);
  const notes: string[] = [];
  if (recorder.ignored > 0)
    notes.push(`${recorder.ignored} callers past the first ${bounds.rehearseMaxCallers} were not followed`);
  if (snapshot.evicted.callers > 0)
    notes.push(`the dependents map evicted ${snapshot.evicted.callers} callers (its bound)`);
  if (dependents.length === 0) notes.push('no dependent made a request during the rehearsal');
  return {
    scenario: {
      name: run.name,
      title: run.title,
      speed: round2(run.speed),
      phases: run.phases.map((p) => ({ ...p, startMs: p.startMs - firstMs, endMs: p.endMs - firstMs })),
    },
    timeline: {
      baselineMs: run.faultStartMs - firstMs,
      faultStartMs: run.faultStartMs - firstMs,
      faultEndMs: run.faultEndMs - firstMs,
      heavyMs,
      endMs: nowMs - firstMs,
      sampleMs,
      samples: recorder.times.length,
    },
    thresholds,
    dependents,
    notes,
  };
}

function heavyDuration(times: number[], run: RunWindow): number {
  let total = 0;
  for (const [a, b] of heavyIntervals(times, run)) total += (times[b] as number) - (times[a] as number);
  return Math.round(total);
}

// ---- the report ------------------------------------------------------------------------------

const yesNo = (b: boolean) => (b ? 'yes' : 'no');
const rate = (n: number) => `${n.toFixed(1)}/s`;

/** The report in markdown. */
export function toMarkdown(report: RehearsalReport): string {
  const t = report.timeline;
  const lines = [
    `# Rehearsal: ${report.scenario.name}${report.scenario.title ? ` (${report.scenario.title})` : ''}`,
    '',
    `Replayed at ${report.scenario.speed}x: baseline ${formatDuration(t.baselineMs)}, faults from ` +
      `+${formatDuration(t.faultStartMs)} to +${formatDuration(t.faultEndMs)} (failing hard, at least ` +
      `${thresholds.heavyShareOfPeak * 100}% of its peak, for ${formatDuration(t.heavyMs)}), observed until ` +
      `+${formatDuration(t.endMs)}; ${t.samples} samples every ${formatDuration(t.sampleMs)}.`,
    '',
  ];
  if (report.scenario.phases.length > 0) {
    lines.push('| phase | from | to |', '| --- | --- | --- |');
    for (const p of report.scenario.phases) {
      lines.push(`| ${p.name} | +${formatDuration(p.startMs)} | +${formatDuration(p.endMs)} |`);
    }
    lines.push('');
  }
  lines.push(
    '| dependent | streams | before | while failing hard | errors then | retried | wait after errors | backed off | longest silence | first success after | back to normal | verdict |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const d of report.dependents) {
    lines.push(
      `| ${d.caller} | ${d.streams.join(', ') || '-'} | ${rate(d.before.ratePerSec)} | ${rate(d.heavy.ratePerSec)}` +
        `${d.loadRatio === null ? '' : ` (${d.loadRatio}x)`} | ${Math.round(d.heavy.errorRatio * 100)}% | ${yesNo(d.retried)} | ` +
        `${d.waitAfterErrorMs === null ? '-' : formatDuration(d.waitAfterErrorMs)}${d.waitFactor === null ? '' : ` (${d.waitFactor}x)`} | ` +
        `${yesNo(d.backedOff)} | ${formatDuration(d.longestSilenceMs)} | ` +
        `${d.recoveryMs === null ? 'none' : formatDuration(d.recoveryMs)} | ` +
        `${d.backToNormalMs === null ? 'not yet' : formatDuration(d.backToNormalMs)} | **${d.behaviour}** |`,
    );
  }
  lines.push('');
  for (const d of report.dependents) {
    lines.push(`## ${d.caller}`, '', `${d.behaviour}: ${d.verdict}.`, '');
    lines.push(
      `- before: ${d.before.requests} requests (${rate(d.before.ratePerSec)}, ${rate(d.before.recordsPerSec)} records written)`,
      `- during the faults: ${d.faults.requests} requests, ${d.faults.errors} failed (${Math.round(d.faults.errorRatio * 100)}%)`,
      `- while failing hard: ${d.heavy.requests} requests (${rate(d.heavy.ratePerSec)}), ${d.heavy.errors} failed`,
      `- wait before its next request: ${d.waitAfterOkMs === null ? '-' : formatDuration(d.waitAfterOkMs)} after a success (before the faults), ` +
        `${d.waitAfterErrorMs === null ? '-' : formatDuration(d.waitAfterErrorMs)} after an error (while failing hard)`,
      `- after: ${d.after.requests} requests (${rate(d.after.ratePerSec)}), ${d.after.errors} failed`,
    );
    if (d.burstRatio !== null)
      lines.push(`- peak records once failures eased: ${d.burstRatio}x its baseline`);
    lines.push('');
  }
  for (const note of report.notes) lines.push(`Note: ${note}`, '');
  lines.push(
    `How to read this: "while failing hard" is the time the scenario's failure probability was at least ${thresholds.heavyShareOfPeak * 100}%`,
    'of its peak; a dependent "retried" if error responses were followed by more requests during the faults;',
    `it "backed off" if it waited at least ${thresholds.backedOffWaitFactor}x longer before its next request after an error than after a`,
    `success (or, when its waits cannot be compared, if its rate while failing hard was at most ${thresholds.backedOffRatio}x its baseline);`,
    `"amplified" if that rate was at least ${thresholds.amplifiedRatio}x its baseline or it waited at most ${thresholds.hastyWaitFactor}x as long after errors;`,
    `"stopped calling" if silent for ${thresholds.silenceShareOfHeavy * 100}% of the hard failure or more;`,
    `"first success after" is the server's own time of its first successful answer after`,
    `the last fault ended; "back to normal" is when its successful rate reached ${thresholds.normalRatio}x its baseline again.`,
    '',
  );
  return lines.join('\n');
}
