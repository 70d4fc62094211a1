import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  type KinesisClient,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import type { Sluice } from '../src/app.js';
import { kinesisClient, rawCall, sleep, startTestServer } from './helpers.js';

const signedHeaders =
  'Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\n' +
  'Authorization: AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0\r\n' +
  'X-Amz-Date: 20260101T000000Z\r\n';

/** A request whose body never comes: it stays in flight until its socket closes. */
function stalledRequest(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n${signedHeaders}Content-Length: 100\r\n\r\n{`);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('admission control', () => {
  let server: Sluice;
  let client: KinesisClient;
  before(async () => {
    server = await startTestServer({
      admission: { maxInFlightRequests: 2, requestDeadlineMs: 300 },
      faults: (context) => (context.operation === 'DescribeLimits' ? { delayMs: 1_000 } : undefined),
    });
    client = kinesisClient(server.port);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('past the in-flight bound a request is refused at once with 503 ServiceUnavailable, before its body', async () => {
    const stalled = [await stalledRequest(server.port), await stalledRequest(server.port)];
    await sleep(50);
    try {
      const started = Date.now();
      const res = await rawCall(server.port, 'ListStreams', {});
      assert.equal(res.status, 503);
      assert.equal(res.body.__type, 'ServiceUnavailable');
      assert.match(String(res.body.message), /overloaded \(in_flight_requests\)/);
      assert.ok(Date.now() - started < 1_000, 'answered without waiting');
      const health = await fetch(`http://127.0.0.1:${server.port}/health`);
      const body = (await health.json()) as { resources: Array<{ name: string; value: number }> };
      assert.equal(body.resources.find((r) => r.name === 'in_flight_requests')?.value, 2);
    } finally {
      for (const s of stalled) s.destroy();
    }
    await sleep(50);
    const ok = await rawCall(server.port, 'ListStreams', {});
    assert.equal(ok.status, 200, 'served again once the stalled requests are gone');
  });

  test('a request that misses its deadline gets 503, and /health still answers meanwhile', async () => {
    const slow = rawCall(server.port, 'DescribeLimits', {});
    await sleep(50);
    const health = await fetch(`http://127.0.0.1:${server.port}/health`);
    // One request of the two allowed is in flight: past the 80% alarm, so /health says so.
    assert.equal(health.status, 503);
    const body = (await health.json()) as { status: string; alarms: string[] };
    assert.deepEqual(
      { status: body.status, alarms: body.alarms },
      { status: 'overloaded', alarms: ['in_flight_requests'] },
    );
    const res = await slow;
    assert.equal(res.status, 503);
    assert.deepEqual(res.body, {
      __type: 'ServiceUnavailable',
      message: 'The request did not complete within its deadline.',
    });
  });

  test('the SDK retries a 503 with backoff and succeeds once there is room', async () => {
    const retrying = kinesisClient(server.port, { maxAttempts: 5 });
    const stalled = [await stalledRequest(server.port), await stalledRequest(server.port)];
    setTimeout(() => {
      for (const s of stalled) s.destroy();
    }, 150);
    try {
      await retrying.send(new CreateStreamCommand({ StreamName: 'after-overload', ShardCount: 1 }));
    } finally {
      retrying.destroy();
    }
  });

  test('/metrics exports the guard and the per-shard metrics in the Prometheus format', async () => {
    await client.send(
      new PutRecordsCommand({
        StreamName: 'after-overload',
        Records: [
          { PartitionKey: 'a', Data: Buffer.from('12345') },
          { PartitionKey: 'b', Data: Buffer.from('678') },
        ],
      }),
    );
    await client.send(
      new PutRecordCommand({ StreamName: 'after-overload', PartitionKey: 'c', Data: Buffer.from('9') }),
    );
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(
      text,
      /kinesis_incoming_records_total\{stream="after-overload",shard="shardId-000000000000"\} 3/,
    );
    assert.match(
      text,
      /kinesis_incoming_bytes_total\{stream="after-overload",shard="shardId-000000000000"\} 12/,
    );
    assert.match(text, /sluice_resource_limit\{resource="in_flight_requests",unit="requests"\} 2/);
    assert.match(text, /sluice_shed_total\{reason="ServiceUnavailable"\} \d+/);
  });
});
