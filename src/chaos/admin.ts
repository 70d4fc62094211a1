import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { chaos as bounds } from '../limits.js';
import { toDot, toMermaid, toTable } from './dependents.js';
import { parseDuration } from './duration.js';
import type { Chaos } from './index.js';
import { builtinScenarios, readScenario } from './scenario.js';

/**
 * The admin API: JSON over HTTP/1.1 on its own port, bound to 127.0.0.1 only. Changes need
 * `Content-Type: application/json` (a browser cannot send that cross-origin without a preflight,
 * which is never answered) and a Host header naming the loopback (no DNS rebinding).
 *
 *   GET    /faults                 rules (with state, probability now, hits) and the scenario
 *   POST   /faults                 add a rule, a list of rules, or {"rules": [...]}
 *   DELETE /faults                 remove every rule (and forget the scenario)
 *   DELETE /faults/<id>            remove one rule
 *   GET    /scenarios              built-in scenarios and the one running
 *   POST   /scenarios              {"name": "nov-2020"} or {"scenario": {...}}, with "speed" or
 *                                  "duration", "streams", "startIn"
 *   DELETE /scenarios              stop the running scenario (its rules go)
 *   GET    /dependents             the map; ?format=json|mermaid|dot|table, ?view=callers
 *   DELETE /dependents             forget everything seen
 *   POST   /dependents/mark        {"atMs": n}: note each caller's first success from then on
 *   GET    /health                 {"status": "ok"}
 */
export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startAdmin(chaos: Chaos, port: number): Promise<AdminServer> {
  const server = http.createServer(
    { requestTimeout: bounds.adminRequestTimeoutMs, headersTimeout: bounds.adminRequestTimeoutMs },
    (req, res) => {
      serve(chaos, req, port === 0 ? (server.address() as AddressInfo).port : port).then(
        (answer) => send(res, answer.status, answer.body, answer.contentType),
        (error: unknown) => {
          const status = error instanceof HttpError ? error.status : 400;
          send(res, status, { error: error instanceof Error ? error.message : String(error) });
        },
      );
    },
  );
  server.maxConnections = bounds.adminMaxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

interface Answer {
  status: number;
  body: unknown;
  contentType?: string;
}

async function serve(chaos: Chaos, req: http.IncomingMessage, port: number): Promise<Answer> {
  const host = (req.headers.host ?? '').toLowerCase();
  if (![`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host)) {
    req.resume();
    throw new HttpError(403, `the admin API answers only to Host 127.0.0.1:${port} or localhost:${port}`);
  }
  const url = new URL(req.url ?? '/', `http://${host}`);
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  if (method !== 'POST') req.resume();
  const body = method === 'POST' ? await readJson(req) : undefined;

  if (path === '/health' && method === 'GET') return ok({ status: 'ok' });
  if (path === '/faults') {
    if (method === 'GET')
      return ok({ nowMs: Date.now(), rules: chaos.faults.list(), scenario: chaos.scenario ?? null });
    if (method === 'POST') {
      const specs = Array.isArray(body)
        ? body
        : isObject(body) && Array.isArray(body.rules)
          ? body.rules
          : [body];
      const added = new Set(chaos.faults.add(specs).map((r) => r.id));
      return { status: 201, body: { rules: chaos.faults.list().filter((r) => added.has(r.id)) } };
    }
    if (method === 'DELETE') return ok({ removed: chaos.clear() });
  }
  const one = /^\/faults\/([^/]+)$/.exec(path);
  if (one && method === 'DELETE') {
    const id = decodeURIComponent(one[1] ?? '');
    if (!chaos.faults.remove(id)) throw new HttpError(404, `no rule ${id}`);
    return ok({ removed: 1 });
  }
  if (path === '/scenarios') {
    if (method === 'GET') return ok({ builtin: builtinScenarios(), scenario: chaos.scenario ?? null });
    if (method === 'POST') {
      if (!isObject(body)) throw new Error('expected {"name": ...} or {"scenario": {...}}');
      const doc =
        body.scenario ?? (typeof body.name === 'string' ? readScenario(builtinName(body.name)) : undefined);
      if (doc === undefined) throw new Error('expected {"name": ...} or {"scenario": {...}}');
      const loaded = chaos.loadScenario(doc, {
        speed: body.speed === undefined ? undefined : Number(body.speed),
        durationMs: body.duration === undefined ? undefined : parseDuration(body.duration, 'duration'),
        streams: body.streams === undefined ? undefined : stringArray(body.streams, 'streams'),
        startInMs: body.startIn === undefined ? undefined : parseDuration(body.startIn, 'startIn'),
      });
      return { status: 201, body: loaded };
    }
    if (method === 'DELETE') return ok({ removed: chaos.stopScenario() });
  }
  if (path === '/dependents') {
    if (method === 'GET') {
      const format = url.searchParams.get('format') ?? 'json';
      if (url.searchParams.get('view') === 'callers') {
        return ok({
          nowMs: Date.now(),
          scenario: chaos.scenario ?? null,
          callers: chaos.dependents.callerViews(),
        });
      }
      const snapshot = chaos.dependents.snapshot();
      if (format === 'json') return ok(snapshot);
      if (format === 'mermaid') return text(toMermaid(snapshot));
      if (format === 'dot') return text(toDot(snapshot));
      if (format === 'table') return text(toTable(snapshot));
      throw new Error('format must be json, mermaid, dot or table');
    }
    if (method === 'DELETE') {
      chaos.dependents.reset();
      return ok({ reset: true });
    }
  }
  if (path === '/dependents/mark' && method === 'POST') {
    const atMs = isObject(body) && typeof body.atMs === 'number' ? body.atMs : Date.now();
    chaos.dependents.mark(atMs);
    return ok({ markMs: atMs });
  }
  const known = ['/health', '/faults', '/scenarios', '/dependents', '/dependents/mark'];
  if (known.includes(path) || one) throw new HttpError(405, `${method} is not allowed on ${path}`);
  throw new HttpError(404, `no ${path} here; see docs/chaos.md for the admin API`);
}

/** Built-in names only: a path given over HTTP is not read from the server's disk. */
function builtinName(name: string): string {
  if (!builtinScenarios().includes(name)) {
    throw new HttpError(
      404,
      `no built-in scenario ${name} (${builtinScenarios().join(', ')}); send it as "scenario"`,
    );
  }
  return name;
}

function stringArray(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw new Error(`${what} must be a list of strings`);
  return value as string[];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const ok = (body: unknown): Answer => ({ status: 200, body });
const text = (body: string): Answer => ({ status: 200, body, contentType: 'text/plain; charset=utf-8' });

function readJson(req: http.IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    return Promise.reject(new HttpError(415, 'changes need Content-Type: application/json'));
  }
  if (Number(req.headers['content-length'] ?? 0) > bounds.adminMaxBodyBytes) {
    req.resume();
    return Promise.reject(new HttpError(413, `body over ${bounds.adminMaxBodyBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > bounds.adminMaxBodyBytes) {
        reject(new HttpError(413, `body over ${bounds.adminMaxBodyBytes} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(raw.trim() === '' ? {} : JSON.parse(raw));
      } catch {
        reject(new Error('the body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  contentType = 'application/json',
): void {
  if (res.headersSent) return;
  const payload = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}
