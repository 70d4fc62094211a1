import { fleet } from '../limits.js';
import type { Lease, Store } from '../store/store.js';
import { defaultCell } from './cells.js';

/**
 * How frontends over one store share work without talking to each other (ARCHITECTURE.md,
 * "The fleet"): everything goes through leases and heartbeats kept by the store, at a constant
 * cost per frontend.
 */

/** The lease whose holder does a cell's single-owner duties: each cell has its own owner, since a
 * frontend serves (and does the background work of) only its cell's streams. */
export function ownerLeaseName(cell: string): string {
  return cell === defaultCell ? 'owner' : `owner:${cell}`;
}

/**
 * The owner lease, one per fleet: its holder ends transient states (CREATING, DELETING,
 * UPDATING), trims retention and decides ON_DEMAND scaling; the other frontends do none of it.
 * The holder renews every `ownerLeaseRenewMs`; the others look at the entry they already have
 * (no store round trip) and try to take it only once it has expired, so a dead holder's duties
 * move after at most its TTL plus one renewal interval. A holder acts only while its entry has
 * more than `ownerLeaseSafetyMs` to run, and stops at once when the store shows another holder.
 */
export class OwnerLease {
  private held = false;
  private expiresMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private unwatch: () => void = () => {};
  private ticking: Promise<void> | undefined;
  /** The first attempt (at start) takes the lease without a log line: a lone frontend, or the
   * embedded store, always does. */
  private started = false;

  constructor(
    private readonly store: Store,
    readonly holder: string,
    private readonly name: string,
    private readonly onGain: () => void,
    private readonly log: (line: string) => void,
  ) {}

  /** True while this frontend may do the single-owner duties. */
  get isOwner(): boolean {
    return this.held && Date.now() < this.expiresMs - fleet.ownerLeaseSafetyMs;
  }

  /** Take or follow the lease now, then every renewal interval. */
  async start(): Promise<void> {
    this.unwatch = this.store.watchLeases((lease) => {
      if (lease.name === this.name && lease.holder !== this.holder && lease.expiresMs > Date.now())
        this.lose(lease);
    });
    await this.tick();
    this.started = true;
    this.timer = setInterval(() => void this.tick(), fleet.ownerLeaseRenewMs);
    this.timer.unref();
  }

  private tick(): Promise<void> {
    this.ticking ??= this.attempt().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async attempt(): Promise<void> {
    const holder = this.holder;
    let now = Date.now();
    try {
      const { lease, written } = await this.store.updateLease(this.name, (current) => {
        now = Date.now();
        if (current && current.holder !== holder && current.expiresMs > now) return undefined;
        return {
          holder,
          acquiredMs: current?.holder === holder ? current.acquiredMs : now,
          expiresMs: now + fleet.ownerLeaseTtlMs,
        };
      });
      if (written && lease?.holder === holder) {
        const gained = !this.held;
        this.held = true;
        this.expiresMs = lease.expiresMs;
        if (gained) {
          if (this.started) this.log(`fleet: this frontend holds the owner lease (${holder})`);
          this.onGain();
        }
      } else if (lease) this.lose(lease);
    } catch (error) {
      // The store is unreachable: keep acting until the entry runs out (isOwner), no longer.
      this.log(`fleet: owner lease not renewed: ${error}`);
    }
  }

  private lose(lease: Lease): void {
    if (!this.held) return;
    this.held = false;
    this.log(`fleet: owner lease now held by ${lease.holder}`);
  }

  /** Stop renewing and give the lease back, so another frontend takes over without waiting
   * (bounded: a store that does not answer leaves the entry to expire). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.unwatch();
    const holder = this.holder;
    await bounded(
      (async () => {
        await this.ticking;
        if (!this.held) return;
        this.held = false;
        await this.store.updateLease(this.name, (current) =>
          current?.holder === holder ? { holder, acquiredMs: current.acquiredMs, expiresMs: 0 } : undefined,
        );
      })(),
    );
    this.held = false;
  }
}

/**
 * The fleet's size as the store counts it: each frontend writes a heartbeat every `heartbeatMs`
 * and reads the count of live ones back (two requests, whatever the size). Per-shard limits are
 * shared among that many frontends.
 */
export class FleetCount {
  private count = 1;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: Store,
    private readonly id: string,
    private readonly onChange: (frontends: number) => void,
    private readonly log: (line: string) => void,
  ) {}

  get frontends(): number {
    return this.count;
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), fleet.heartbeatMs);
    this.timer.unref();
  }

  private beat(): Promise<void> {
    this.running ??= this.store
      .heartbeat(this.id)
      .then(
        (count) => {
          if (count === this.count) return;
          this.count = count;
          this.log(`fleet: ${count} frontends alive`);
          this.onChange(count);
        },
        (error: unknown) => this.log(`fleet: heartbeat failed: ${error}`),
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  /** Stop beating and take this frontend's heartbeat out, so the others share without it at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await bounded(
      (async () => {
        await this.running;
        await this.store.heartbeat(this.id, true);
      })(),
    );
  }
}

/** Wait for `work` at most `ownerReleaseWaitMs` (shutdown must not hang on the store). */
async function bounded(work: Promise<unknown>): Promise<void> {
  let timeout: NodeJS.Timeout | undefined;
  await Promise.race([
    work.catch(() => undefined),
    new Promise((resolve) => {
      timeout = setTimeout(resolve, fleet.ownerReleaseWaitMs);
    }),
  ]);
  clearTimeout(timeout);
}
