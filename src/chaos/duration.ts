/**
 * Durations in rules, scenarios and CLI flags: a number of milliseconds, or a string such as
 * `250ms`, `10s`, `1.5m`, `2h` (one unit, decimal allowed).
 */
const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(value: unknown, what: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${what} must be a duration of 0 or more`);
    return value;
  }
  if (typeof value !== 'string') throw new Error(`${what} must be a number of ms or a string like "10s"`);
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) throw new Error(`${what}: "${value}" is not a duration (like 250ms, 10s, 1.5m, 2h)`);
  return Number(match[1]) * (units[match[2] ?? 'ms'] ?? 1);
}

/** A duration written for people: `850 ms`, `12.3 s`, `4.5 min`, `2.1 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
