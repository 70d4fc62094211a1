import { chaos as bounds } from '../limits.js';

/** The admin API from the outside (the `sluice faults`, `dependents` and `rehearse` commands). */
export class AdminClient {
  readonly base: string;

  constructor(base = `http://127.0.0.1:${bounds.defaultAdminPort}`) {
    this.base = base.replace(/\/+$/, '');
  }

  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(bounds.adminRequestTimeoutMs),
      });
    } catch (error) {
      throw new Error(
        `cannot reach the admin API at ${this.base} (${(error as Error).message}); start the server with --admin-port`,
      );
    }
    const text = await response.text();
    if (!response.ok) {
      let message = text;
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON: the text itself
      }
      throw new Error(`admin API ${method} ${path}: ${response.status} ${message}`.trim());
    }
    const type = response.headers.get('content-type') ?? '';
    return (type.startsWith('application/json') ? JSON.parse(text) : text) as T;
  }
}
