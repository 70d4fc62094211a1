import type { LoadCounters, ResourceGuard } from '../fleet/guard.js';
import { guard as limits } from '../limits.js';

/**
 * Admission control: decide before a request's body is read whether to serve it, so overload is
 * answered early and cheaply (a 503 the SDKs retry with backoff) instead of queuing without end.
 * A request is refused when the in-flight bound or the in-flight body bytes bound would be
 * exceeded, or while the heap or the event-loop delay is past its alarm threshold.
 */
export interface AdmissionLimits {
  maxInFlightRequests: number;
  maxInFlightBodyBytes: number;
  requestDeadlineMs: number;
}

export class Admission {
  readonly limits: AdmissionLimits;

  constructor(overrides: Partial<AdmissionLimits> = {}) {
    this.limits = {
      maxInFlightRequests: limits.maxInFlightRequests,
      maxInFlightBodyBytes: limits.maxInFlightBodyBytes,
      requestDeadlineMs: limits.requestDeadlineMs,
      ...overrides,
    };
  }

  readonly counters: LoadCounters = { connections: 0, inFlightRequests: 0, inFlightBytes: 0 };
  /** Alarms are read at most this often on the hot path (reading them walks /proc). */
  private alarmsReadMs = 0;
  private pressure: string | undefined;
  guard: ResourceGuard | undefined;

  /** Why a request with this declared body size must be refused now, or undefined to admit it. */
  refuse(declaredBytes: number, now = Date.now()): string | undefined {
    if (this.counters.inFlightRequests >= this.limits.maxInFlightRequests) return 'in_flight_requests';
    if (this.counters.inFlightBytes + declaredBytes > limits.maxInFlightBodyBytes)
      return 'in_flight_body_bytes';
    if (this.guard && now - this.alarmsReadMs >= limits.pressureCheckMs) {
      this.alarmsReadMs = now;
      const alarms = this.guard.alarms();
      this.pressure = alarms.find((a) => a === 'heap_used' || a === 'event_loop_delay_p99');
    }
    return this.pressure;
  }

  /** Count a request in; returns the function that counts it out (call once). */
  enter(declaredBytes: number): () => void {
    this.counters.inFlightRequests++;
    this.counters.inFlightBytes += declaredBytes;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.counters.inFlightRequests--;
      this.counters.inFlightBytes -= declaredBytes;
    };
  }
}
