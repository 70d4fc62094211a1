import type { LoadCounters, ResourceGuard } from '../fleet/guard.js';
import { guard as limits } from '../limits.js';

/**
 * Admission control: decide before a request's body is read whether to serve it, so overload is
 * answered early and cheaply (a 503 the SDKs retry with backoff) instead of queuing without end.
 * A request is refused when the in-flight bound or the in-flight body bytes bound would be
 * exceeded, or while the heap is past its alarm threshold; writes also while the store's append
 * backlog is.
 */
export interface AdmissionLimits {
  maxInFlightRequests: number;
  maxInFlightBodyBytes: number;
  requestDeadlineMs: number;
  maxStoreWaitMs: number;
}

export class Admission {
  readonly limits: AdmissionLimits;

  constructor(overrides: Partial<AdmissionLimits> = {}) {
    this.limits = {
      maxInFlightRequests: limits.maxInFlightRequests,
      maxInFlightBodyBytes: limits.maxInFlightBodyBytes,
      requestDeadlineMs: limits.requestDeadlineMs,
      maxStoreWaitMs: limits.maxStoreWaitMs,
      ...overrides,
    };
  }

  readonly counters: LoadCounters = { connections: 0, inFlightRequests: 0, inFlightBytes: 0 };
  /** Alarms are read at most this often on the hot path (reading them walks /proc). */
  private alarmsReadMs = 0;
  private pressure: string | undefined;
  private writePressure: string | undefined;
  guard: ResourceGuard | undefined;

  /**
   * Why a new request must be refused now, or undefined to admit it: the in-flight bound, the
   * body memory held by requests in flight (bytes received, or a declared length's buffer once a
   * quarter of it arrived; src/server/handler.ts readBody), or a heap in alarm; a write
   * (`write`) also while the store's append backlog is in alarm.
   */
  refuse(now = Date.now(), write = false): string | undefined {
    if (this.counters.inFlightRequests >= this.limits.maxInFlightRequests) return 'in_flight_requests';
    if (this.counters.inFlightBytes >= this.limits.maxInFlightBodyBytes) return 'in_flight_body_bytes';
    if (this.guard && now - this.alarmsReadMs >= limits.pressureCheckMs) {
      this.alarmsReadMs = now;
      // Only memory sheds here: event-loop delay is an alarm for /health, not a reason to refuse
      // everything (a busy loop is what the in-flight bound already limits).
      const alarms = this.guard.alarms();
      this.pressure = alarms.find((a) => a === 'heap_used');
      // A store that takes fewer records than this frontend admits: writes wait, reads do not.
      this.writePressure = alarms.find((a) => a === 'store_append_wait');
    }
    return this.pressure ?? (write ? this.writePressure : undefined);
  }

  /** Count a request in: `received` adds body bytes as they are held, `leave` counts it out once. */
  enter(): { received: (bytes: number) => void; leave: () => void } {
    this.counters.inFlightRequests++;
    let held = 0;
    let left = false;
    return {
      received: (bytes) => {
        if (left) return;
        held += bytes;
        this.counters.inFlightBytes += bytes;
      },
      leave: () => {
        if (left) return;
        left = true;
        this.counters.inFlightRequests--;
        this.counters.inFlightBytes -= held;
      },
    };
  }
}
