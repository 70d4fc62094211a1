import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gauge } from 'prom-client';
import { subscriptionStats } from './api/subscribe.js';
import { type AdminServer, startAdmin } from './chaos/admin.js';
import { Chaos } from './chaos/index.js';
import { defaultCell } from './engine/cells.js';
import { defaultEngineConfig, Engine, type EngineConfig } from './engine/engine.js';
import { ResourceGuard } from './fleet/guard.js';
import { Metrics } from './fleet/metrics.js';
import { KinesisError } from './protocol/errors.js';
import { Admission, type AdmissionLimits } from './server/admission.js';
import type { AuthOptions } from './server/auth.js';
import { createHandler, type HandlerOptions } from './server/handler.js';
import { type Listening, listen } from './server/listener.js';
import { SqliteStore } from './store/sqlite.js';
import type { MetaStatus, Store } from './store/store.js';

export interface SluiceOptions {
  host: string;
  port: number;
  /** Folder of the embedded store; ignored with `memory`. */
  dataDir: string;
  memory: boolean;
  fsync: boolean;
  /** Keep streams and records in a NATS JetStream cluster instead of the embedded store:
   * `nats://host:port[,host:port...][?replicas=N&prefix=P&placement=cell]` (src/store/nats.ts). */
  natsUrl?: string;
  tls?: { port: number; certPath?: string; keyPath?: string };
  engine: Partial<EngineConfig>;
  /** Verify SigV4 signatures against these access keys and enforce stream resource policies
   * (`--auth`); without it any well-formed Authorization header is accepted. */
  auth?: AuthOptions;
  /** Overrides of admission control's bounds (src/limits.ts `guard`), for tests and tuning. */
  admission?: Partial<AdmissionLimits>;
  /** Fault injection (src/chaos), consulted for every parsed request. */
  faults?: HandlerOptions['faults'];
  /** Told how every request ended (the dependents map listens here). */
  onAnswered?: HandlerOptions['onAnswered'];
  /** Fault rules and the dependents map (src/chaos, docs/chaos.md): rules or a scenario held
   * from the start (`--faults FILE`), the admin API's port on 127.0.0.1 (`--admin-port`; off
   * without it), a seed for reproducible fault draws. */
  chaos?: { faults?: unknown; adminPort?: number; seed?: number };
  log?: (line: string) => void;
}

export interface Sluice {
  port: number;
  tlsPort?: number;
  engine: Engine;
  guard: ResourceGuard;
  /** Fault rules, scenarios and the dependents map of this server. */
  chaos: Chaos;
  /** Port of the admin API, when it is on. */
  adminPort?: number;
  close(): Promise<void>;
}

/** Open the store, build the engine from it, and serve. */
export async function startSluice(options: SluiceOptions): Promise<Sluice> {
  // Read the access keys first: a bad credentials file fails before the store is opened.
  // The modules of --auth, --store nats:// and --tls are loaded only when asked for (start-up).
  const auth = options.auth ? await import('./server/auth.js') : undefined;
  const accessKeys = options.auth
    ? auth?.loadAccessKeys(options.auth, options.engine.accountId ?? defaultEngineConfig.accountId)
    : undefined;
  const log = options.log ?? (() => {});
  const nats = options.natsUrl ? await import('./store/nats.js') : undefined;
  const store: Store =
    nats && options.natsUrl
      ? await nats.NatsStore.open({
          ...nats.parseNatsUrl(options.natsUrl),
          cell: options.engine.cell ?? defaultCell,
          log,
        })
      : await SqliteStore.open({
          dataDir: options.memory ? undefined : options.dataDir,
          fsync: options.fsync,
        });
  let engine: Engine;
  try {
    engine = await Engine.open(store, { ...defaultEngineConfig, ...options.engine, log });
  } catch (error) {
    await store.close();
    throw error;
  }
  const meta = metaStatusOf(store);
  const admission = new Admission(options.admission);
  const guard = new ResourceGuard(
    admission.counters,
    () => subscriptionStats(engine).active,
    admission.limits,
    () => store.appendWaitMs?.() ?? 0,
  );
  admission.guard = guard;
  const metrics = new Metrics(guard);
  engine.metrics = metrics;
  // The cell this frontend serves, as an info series (joinable on `instance`), so the other series
  // keep their labels.
  new Gauge({
    name: 'sluice_cell_info',
    help: 'The cell this frontend serves (--cell): always 1, the cell in the label',
    labelNames: ['cell'],
    registers: [metrics.registry],
  }).set({ cell: engine.config.cell }, 1);
  let chaos: Chaos;
  try {
    chaos = new Chaos(engine, { initial: options.chaos?.faults, seed: options.chaos?.seed });
  } catch (error) {
    guard.close();
    await engine.close();
    await store.close();
    throw error;
  }
  let listening: Listening;
  try {
    const tls = options.tls ? { port: options.tls.port, ...(await tlsMaterial(options)) } : undefined;
    listening = await listen(
      { host: options.host, port: options.port, tls, counters: admission.counters },
      createHandler({
        engine,
        admission,
        ...(auth && accessKeys ? auth.createAuthenticator(engine, accessKeys, options.auth?.now) : {}),
        faults: options.faults
          ? (context) => options.faults?.(context) ?? chaos.decide(context)
          : chaos.decide,
        onAnswered: (outcome) => {
          options.onAnswered?.(outcome);
          chaos.answered(outcome);
          const operation = outcome.operation ?? 'unknown';
          metrics.requests.inc({ operation, outcome: outcome.errorType || 'ok' });
          metrics.latency.observe({ operation }, outcome.durationMs / 1000);
          if (outcome.status === 503) metrics.shed.inc({ reason: outcome.errorType ?? 'unknown' });
        },
        health: () => {
          const resources = guard.report();
          const alarms = resources.filter((r) => r.alarm).map((r) => r.name);
          const view = meta.status();
          const metadata = {
            version: view.version,
            lag: view.lag ?? null,
            measuredAgoMs: view.measuredMs === undefined ? null : Math.max(0, Date.now() - view.measuredMs),
          };
          if (view.unreachable !== undefined) {
            return {
              healthy: false,
              body: {
                status: 'store-unreachable',
                store: store.kind,
                storeError: view.unreachable,
                metadata,
                alarms,
                resources,
              },
            };
          }
          return {
            healthy: alarms.length === 0,
            body: {
              status: alarms.length === 0 ? 'ok' : 'overloaded',
              store: store.kind,
              metadata,
              cell: engine.config.cell,
              alarms,
              resources,
            },
          };
        },
        storeUnavailable: () => {
          const reason = meta.status().unreachable;
          return reason === undefined ? undefined : new KinesisError('ServiceUnavailable', reason, 503);
        },
        metricsText: async () => ({
          contentType: metrics.registry.contentType,
          body: await metrics.registry.metrics(),
        }),
        onFault: (error) => log(`internal error: ${(error as Error)?.stack ?? error}`),
      }),
    );
  } catch (error) {
    guard.close();
    await engine.close();
    await store.close();
    throw error;
  }
  let admin: AdminServer | undefined;
  if (options.chaos?.adminPort !== undefined) {
    try {
      admin = await startAdmin(chaos, options.chaos.adminPort);
    } catch (error) {
      await listening.close();
      guard.close();
      await engine.close();
      await store.close();
      throw error;
    }
  }
  return {
    port: listening.port,
    tlsPort: listening.tlsPort,
    engine,
    guard,
    chaos,
    adminPort: admin?.port,
    close: async () => {
      await admin?.close();
      await listening.close();
      guard.close();
      meta.close();
      await engine.close();
      await store.close();
    },
  };
}

/**
 * The metadata view's status for /health: the store's own (NATS: applied log sequence, lag, and
 * reachability), or for a store without one (the embedded store, where the view is the store) the
 * count of changes it delivered since start, with no lag.
 */
function metaStatusOf(store: Store): { status(): MetaStatus; close(): void } {
  if (store.metaStatus) return { status: () => store.metaStatus?.() ?? { version: 0 }, close: () => {} };
  let version = 0;
  const unwatch = store.watch(() => {
    version++;
  });
  return { status: () => ({ version, lag: 0, measuredMs: Date.now() }), close: unwatch };
}

/** The given certificate, or a self-signed one generated on first use and kept with the data. */
async function tlsMaterial(options: SluiceOptions): Promise<{ cert: Buffer | string; key: Buffer | string }> {
  const tls = options.tls;
  if (tls?.certPath && tls.keyPath)
    return { cert: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) };
  const dir = options.memory ? undefined : options.dataDir;
  const certFile = dir && join(dir, 'tls-cert.pem');
  const keyFile = dir && join(dir, 'tls-key.pem');
  if (certFile && keyFile && existsSync(certFile) && existsSync(keyFile)) {
    return { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  }
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  if (dir && certFile && keyFile) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(certFile, pems.cert);
    writeFileSync(keyFile, pems.private, { mode: 0o600 });
  }
  return { cert: pems.cert, key: pems.private };
}
