import { fleet } from '../limits.js';
import type { Lease, LeaseBody } from './store.js';

/**
 * Leases of a store used by one process (the embedded SQLite store): a map in memory. Nobody else
 * can hold them, and they need not survive a restart (the process that held them is gone).
 */
export class LocalLeases {
  private readonly leases = new Map<string, Lease>();
  private readonly watchers = new Set<(lease: Lease) => void>();
  private version = 0;

  async update(
    name: string,
    decide: (current: Lease | undefined) => LeaseBody | undefined,
  ): Promise<{ lease: Lease | undefined; written: boolean }> {
    const current = this.leases.get(name);
    const body = decide(current);
    if (!body) return { lease: current, written: false };
    const lease: Lease = {
      name,
      holder: body.holder,
      acquiredMs: body.acquiredMs,
      expiresMs: body.expiresMs,
      version: ++this.version,
    };
    this.leases.set(name, lease);
    if (this.leases.size > fleet.maxLeaseEntries) pruneExpired(this.leases);
    for (const watcher of this.watchers) watcher(lease);
    return { lease, written: true };
  }

  peek(name: string): Lease | undefined {
    return this.leases.get(name);
  }

  watch(onChange: (lease: Lease) => void): () => void {
    this.watchers.add(onChange);
    return () => this.watchers.delete(onChange);
  }
}

/** Drop the entries whose expiry has passed (they are free anyway). */
export function pruneExpired(leases: Map<string, Lease>, nowMs = Date.now()): void {
  for (const [name, lease] of leases) if (lease.expiresMs <= nowMs) leases.delete(name);
}
