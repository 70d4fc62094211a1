import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { guard as limits } from '../limits.js';

/**
 * The resource guard: every resource this process can run out of, with its limit, a gauge that
 * reads it now, and an alarm threshold below the limit. `/health` reports them with their
 * headroom and `/metrics` exports them; admission control sheds load when one is past its alarm
 * (src/server/admission.ts). Reading a gauge never touches the store or the data path.
 */
export interface Resource {
  name: string;
  unit: string;
  /** The hard limit (what breaks, or what is refused, past it). */
  limit: number;
  /** Alarm at this value: shed load and report unhealthy before the limit is reached. */
  alarmAt: number;
  reason: string;
  read(): number;
}

export interface ResourceReading {
  name: string;
  unit: string;
  value: number;
  limit: number;
  alarmAt: number;
  /** Fraction of the limit still free (1 = unused, 0 = at the limit). */
  headroom: number;
  alarm: boolean;
  reason: string;
}

/** Counters the request path keeps, read by the guard. */
export interface LoadCounters {
  connections: number;
  inFlightRequests: number;
  inFlightBytes: number;
}

function openFiles(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
}

/** The soft limit on open files of this process, from /proc (Linux), or a conservative default. */
export function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) && soft > 0 ? soft : limits.defaultOpenFileLimit;
  } catch {
    return limits.defaultOpenFileLimit;
  }
}

export class ResourceGuard {
  readonly resources: Resource[];
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private loopDelayP99Ms = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    counters: LoadCounters,
    subscriptions: () => number,
    bounds: { maxInFlightRequests: number; maxInFlightBodyBytes: number; maxStoreWaitMs: number } = limits,
    storeWaitMs: () => number = () => 0,
  ) {
    this.loopDelay.enable();
    // The loop delay is summarised per interval, so a past stall does not alarm forever.
    this.timer = setInterval(() => {
      this.loopDelayP99Ms = this.loopDelay.percentile(99) / 1e6;
      this.loopDelay.reset();
    }, limits.loopDelayWindowMs);
    this.timer.unref();
    const heapLimit = getHeapStatistics().heap_size_limit;
    const fileLimit = openFileLimit();
    const at = (limit: number) => Math.floor(limit * limits.alarmFraction);
    this.resources = [
      {
        name: 'connections',
        unit: 'connections',
        limit: limits.maxConnections,
        alarmAt: at(limits.maxConnections),
        reason: 'each connection holds a socket, a file descriptor and parser or HTTP/2 session memory',
        read: () => counters.connections,
      },
      {
        name: 'in_flight_requests',
        unit: 'requests',
        limit: bounds.maxInFlightRequests,
        alarmAt: at(bounds.maxInFlightRequests),
        reason: 'requests past this wait in memory and add latency for everyone; refused early instead',
        read: () => counters.inFlightRequests,
      },
      {
        name: 'in_flight_body_bytes',
        unit: 'bytes',
        limit: bounds.maxInFlightBodyBytes,
        alarmAt: at(bounds.maxInFlightBodyBytes),
        reason: 'request bodies being read or served are held in memory',
        read: () => counters.inFlightBytes,
      },
      {
        name: 'subscriptions',
        unit: 'subscriptions',
        limit: limits.maxSubscriptions,
        alarmAt: at(limits.maxSubscriptions),
        reason: 'each SubscribeToShard holds a timer, an append listener and up to one event in memory',
        read: subscriptions,
      },
      {
        name: 'event_loop_delay_p99',
        unit: 'ms',
        limit: limits.maxLoopDelayMs,
        alarmAt: limits.loopDelayAlarmMs,
        reason: "one event loop serves every request: its delay is everyone's added latency",
        read: () => this.loopDelayP99Ms,
      },
      {
        name: 'store_append_wait',
        unit: 'ms',
        limit: bounds.maxStoreWaitMs,
        alarmAt: at(bounds.maxStoreWaitMs),
        reason:
          'writes waiting this long for the store mean it takes fewer records than this frontend admits; new writes are refused instead of queuing to the deadline',
        read: storeWaitMs,
      },
      {
        name: 'heap_used',
        unit: 'bytes',
        limit: heapLimit,
        alarmAt: at(heapLimit),
        reason: 'past the V8 heap limit the process aborts',
        read: () => process.memoryUsage().heapUsed,
      },
      {
        name: 'open_files',
        unit: 'files',
        limit: fileLimit,
        alarmAt: at(fileLimit),
        reason: 'sockets and the database need file descriptors; past the limit accept() and open() fail',
        read: openFiles,
      },
    ];
  }

  report(): ResourceReading[] {
    return this.resources.map((r) => {
      const value = r.read();
      return {
        name: r.name,
        unit: r.unit,
        value,
        limit: r.limit,
        alarmAt: r.alarmAt,
        headroom: Math.max(0, 1 - value / r.limit),
        alarm: value >= r.alarmAt,
        reason: r.reason,
      };
    });
  }

  /** Resources past their alarm threshold now (cheap enough to call per request). */
  alarms(): string[] {
    return this.report()
      .filter((r) => r.alarm)
      .map((r) => r.name);
  }

  close(): void {
    clearInterval(this.timer);
    this.loopDelay.disable();
  }
}
