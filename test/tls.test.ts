import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import {
  CreateStreamCommand,
  KinesisClient,
  ListStreamsCommand,
  PutRecordCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Sluice } from '../src/app.js';
import { startTestServer, testCredentials } from './helpers.js';

describe('opt-in TLS port with ALPN', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
  let server: Sluice;
  let ca: Buffer;

  before(async () => {
    server = await startTestServer({ memory: false, dataDir, tls: { port: 0 } });
    ca = readFileSync(join(dataDir, 'tls-cert.pem'));
  });
  after(async () => {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('ALPN offers h2 and http/1.1 with a self-signed certificate for localhost and 127.0.0.1', async () => {
    for (const protocol of ['h2', 'http/1.1']) {
      const negotiated = await new Promise<string | false | null>((resolve, reject) => {
        const socket = tls.connect(
          { host: '127.0.0.1', port: server.tlsPort, ca, ALPNProtocols: [protocol], servername: 'localhost' },
          () => {
            resolve(socket.alpnProtocol ?? null);
            socket.end();
          },
        );
        socket.on('error', reject);
      });
      assert.equal(negotiated, protocol);
    }
  });

  test('the AWS SDK v3 works over TLS with HTTP/1.1 and with its default HTTP/2 handler', async () => {
    const h1 = new KinesisClient({
      endpoint: `https://localhost:${server.tlsPort}`,
      region: 'us-east-1',
      credentials: testCredentials,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca }) }),
    });
    await h1.send(new CreateStreamCommand({ StreamName: 'secure', ShardCount: 1 }));
    const put = await h1.send(
      new PutRecordCommand({ StreamName: 'secure', PartitionKey: 'k', Data: Buffer.from('over tls') }),
    );
    assert.equal(put.ShardId, 'shardId-000000000000');
    h1.destroy();

    // The SDK's HTTP/2 handler has no option for a private CA; check the same call on a raw h2
    // session that trusts our certificate, then the SDK with verification relaxed for this process.
    const session = http2.connect(`https://localhost:${server.tlsPort}`, { ca });
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({
        ':method': 'POST',
        ':path': '/',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.ListStreams',
        authorization: 'AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=c',
        'x-amz-date': '20260101T000000Z',
      });
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        text += chunk;
      });
      req.on('end', () => resolve(text));
      req.on('error', reject);
      req.end('{}');
    });
    session.close();
    assert.deepEqual(JSON.parse(body).StreamNames, ['secure']);

    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    const h2 = new KinesisClient({
      endpoint: `https://127.0.0.1:${server.tlsPort}`,
      region: 'us-east-1',
      credentials: testCredentials,
      maxAttempts: 1,
    });
    try {
      const list = await h2.send(new ListStreamsCommand({}));
      assert.deepEqual(list.StreamNames, ['secure']);
      // Enhanced fan-out over TLS: SubscribeToShard on the SDK's HTTP/2 handler.
      const { Consumer } = await h2.send(
        new RegisterStreamConsumerCommand({
          StreamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/secure',
          ConsumerName: 'tls-consumer',
        }),
      );
      const controller = new AbortController();
      const out = await h2.send(
        new SubscribeToShardCommand({
          ConsumerARN: Consumer?.ConsumerARN,
          ShardId: 'shardId-000000000000',
          StartingPosition: { Type: 'TRIM_HORIZON' },
        }),
        { abortSignal: controller.signal },
      );
      const seen: string[] = [];
      for await (const event of out.EventStream ?? []) {
        for (const r of event.SubscribeToShardEvent?.Records ?? [])
          seen.push(Buffer.from(r.Data ?? []).toString());
        if (seen.length > 0) break;
      }
      controller.abort();
      assert.deepEqual(seen, ['over tls']);
    } finally {
      h2.destroy();
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    }
  });

  test('the generated certificate is kept and reused on restart', async () => {
    await server.close();
    server = await startTestServer({ memory: false, dataDir, tls: { port: 0 } });
    assert.deepEqual(readFileSync(join(dataDir, 'tls-cert.pem')), ca);
    const peer = await new Promise<Buffer>((resolve, reject) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port: server.tlsPort, ca, servername: 'localhost' },
        () => {
          resolve(socket.getPeerX509Certificate()?.raw ?? Buffer.alloc(0));
          socket.end();
        },
      );
      socket.on('error', reject);
    });
    assert.deepEqual(peer, new X509Certificate(ca).raw, 'the server presents the kept certificate');
  });
});
