import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { server as bounds, guard as guardLimits } from '../limits.js';

export type Request = http.IncomingMessage | http2.Http2ServerRequest;
export type Response = http.ServerResponse | http2.Http2ServerResponse;
export type RequestHandler = (req: Request, res: Response) => void;

/** The HTTP/2 connection preface a prior-knowledge (h2c) client sends first. */
const h2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface ListenerOptions {
  host: string;
  port: number;
  /** Counts open connections (for the resource guard); connections past the bound are closed. */
  counters?: { connections: number };
  /** Opt-in TLS port (ALPN h2 and http/1.1). */
  tls?: { port: number; cert: string | Buffer; key: string | Buffer };
}

export interface Listening {
  /** Port actually bound (useful when 0 was asked for). */
  port: number;
  tlsPort?: number;
  close(): Promise<void>;
}

/**
 * One cleartext port serving HTTP/1.1 and HTTP/2 with prior knowledge: the first bytes of each
 * connection decide which server gets the socket. Plus an optional TLS port where ALPN decides.
 */
export async function listen(options: ListenerOptions, handler: RequestHandler): Promise<Listening> {
  const h1 = http.createServer(
    {
      maxHeaderSize: bounds.maxHeaderBytes,
      keepAliveTimeout: bounds.keepAliveTimeoutMs,
      // Slow clients: headers within 10 s, the whole request within the body bound's time.
      headersTimeout: bounds.headersTimeoutMs,
      requestTimeout: bounds.bodyTimeoutMs + bounds.headersTimeoutMs,
    },
    handler,
  );
  const h2 = http2.createServer(
    {
      // The same header bound as HTTP/1.1 (431 there; the stream is reset here).
      settings: {
        maxConcurrentStreams: bounds.http2MaxConcurrentStreams,
        maxHeaderListSize: bounds.maxHeaderBytes,
      },
      maxSessionMemory: 64,
    },
    handler,
  );
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    if (options.counters) options.counters.connections++;
    socket.once('close', () => {
      sockets.delete(socket);
      if (options.counters) options.counters.connections--;
    });
  };
  const plain = net.createServer((socket) => {
    track(socket);
    sniff(socket, h1, h2);
  });
  // Past the bound the kernel's accept is answered by closing: cheaper than serving badly.
  plain.maxConnections = guardLimits.maxConnections;
  // Idle HTTP/2 sessions are closed like idle HTTP/1.1 keep-alive sockets.
  h2.setTimeout(bounds.keepAliveTimeoutMs);
  await new Promise<void>((resolve, reject) => {
    plain.once('error', reject);
    plain.listen(options.port, options.host, () => resolve());
  });
  const address = plain.address() as net.AddressInfo;

  let secure: http2.Http2SecureServer | undefined;
  let tlsPort: number | undefined;
  if (options.tls) {
    const server = http2.createSecureServer(
      {
        allowHTTP1: true,
        cert: options.tls.cert,
        key: options.tls.key,
        settings: {
          maxConcurrentStreams: bounds.http2MaxConcurrentStreams,
          maxHeaderListSize: bounds.maxHeaderBytes,
        },
      },
      handler,
    );
    server.on('secureConnection', (socket: net.Socket) => track(socket));
    server.maxConnections = guardLimits.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.tls?.port, options.host, () => resolve());
    });
    secure = server;
    tlsPort = (server.address() as net.AddressInfo).port;
  }

  return {
    port: address.port,
    tlsPort,
    close: async () => {
      const closing = [new Promise<void>((resolve) => plain.close(() => resolve()))];
      if (secure) {
        const s = secure;
        closing.push(new Promise<void>((resolve) => s.close(() => resolve())));
      }
      h1.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, bounds.shutdownGraceMs);
      for (const socket of sockets) socket.end();
      await Promise.all(closing);
      clearTimeout(timer);
    },
  };
}

/** Read just enough of a new connection to tell an HTTP/2 preface from HTTP/1.1. */
function sniff(socket: net.Socket, h1: http.Server, h2: http2.Http2Server): void {
  let seen: Buffer = Buffer.alloc(0);
  socket.setTimeout(bounds.firstBytesTimeoutMs, () => socket.destroy());
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, h2Preface.length);
    const isPrefix = seen.subarray(0, n).equals(h2Preface.subarray(0, n));
    if (isPrefix && seen.length < h2Preface.length) return; // need more bytes to decide
    socket.removeListener('data', onData);
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(seen);
    if (isPrefix) {
      // The HTTP/2 session reads the unshifted bytes itself on its next tick; resuming here
      // would hand them to nobody.
      h2.emit('connection', socket);
    } else {
      h1.emit('connection', socket);
      socket.resume();
    }
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
}

export function readPem(path: string): Buffer {
  return readFileSync(path);
}
