import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { operations } from '../src/api/operations.js';
import { knownOperations } from '../src/api/validation.js';
import type { Sluice } from '../src/app.js';
import { rawCall, startTestServer } from './helpers.js';

const uuid = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

describe('JSON 1.1 protocol', () => {
  let server: Sluice;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('a valid call answers 200 with a request id and the JSON 1.1 content type', async () => {
    const res = await rawCall(server.port, 'ListStreams', {});
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { StreamNames: [], HasMoreStreams: false, StreamSummaries: [] });
    assert.match(res.headers.get('x-amzn-requestid') ?? '', uuid);
    assert.ok(res.headers.get('x-amz-id-2'));
    assert.equal(res.headers.get('content-type'), 'application/x-amz-json-1.1');
  });

  test('the same port speaks HTTP/2 with prior knowledge', async () => {
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({
          ':method': 'POST',
          ':path': '/',
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'Kinesis_20131202.ListStreams',
          authorization: 'AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=c',
          'x-amz-date': '20260101T000000Z',
        });
        let status = 0;
        let body = '';
        req.on('response', (headers) => {
          status = Number(headers[':status']);
        });
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => {
          body += chunk;
        });
        req.on('end', () => resolve({ status, body }));
        req.on('error', reject);
        req.end('{}');
      });
      assert.equal(status, 200);
      assert.equal(JSON.parse(body).HasMoreStreams, false);
    } finally {
      session.close();
    }
  });

  test('missing or unknown target: UnknownOperationException without a message', async () => {
    for (const target of [undefined, 'ListStreams', 'Kinesis_20131202.Nope', 'Kinesis_20131202.']) {
      const res = await rawCall(server.port, undefined, {}, target ? { 'X-Amz-Target': target } : {});
      assert.equal(res.status, 400);
      assert.deepEqual(res.body, { __type: 'UnknownOperationException' });
      assert.match(res.headers.get('x-amzn-requestid') ?? '', uuid);
    }
  });

  test('a body that is not a JSON object: SerializationException without a message', async () => {
    for (const body of ['hello', '{"a":', 'true', 'null', '12', '[]']) {
      const res = await rawCall(server.port, 'ListStreams', body);
      assert.equal(res.status, 400, body);
      assert.deepEqual(res.body, { __type: 'SerializationException' }, body);
    }
    const empty = await rawCall(server.port, 'ListStreams', '');
    assert.deepEqual(empty.body, { __type: 'SerializationException' });
  });

  test('no Authorization header: MissingAuthenticationTokenException', async () => {
    const res = await rawCall(server.port, 'ListStreams', {}, { Authorization: null });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      __type: 'MissingAuthenticationTokenException',
      message: 'Missing Authentication Token',
    });
  });

  test('an incomplete Authorization header: IncompleteSignatureException naming what is missing', async () => {
    const res = await rawCall(server.port, 'ListStreams', {}, { Authorization: 'X', 'X-Amz-Date': null });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      __type: 'IncompleteSignatureException',
      message:
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
        "Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either " +
        "a 'X-Amz-Date' or a 'Date' header. Authorization=X",
    });
  });

  test('methods other than POST get the XML errors the service sends', async () => {
    const unsigned = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(unsigned.status, 403);
    assert.equal(
      await unsigned.text(),
      '<MissingAuthenticationTokenException>\n  <Message>Missing Authentication Token</Message>\n</MissingAuthenticationTokenException>\n',
    );
    const signed = await fetch(`http://127.0.0.1:${server.port}/`, {
      method: 'PUT',
      headers: { Authorization: 'AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=c' },
    });
    assert.equal(signed.status, 403);
    assert.match(
      await signed.text(),
      /<AccessDeniedException>\n {2}<Message>Unable to determine service\/operation/,
    );
  });

  test('an unsupported content type gets 404 UnknownOperationException', async () => {
    const res = await rawCall(server.port, 'ListStreams', '{}', { 'Content-Type': 'text/plain' });
    assert.equal(res.status, 404);
    assert.equal(res.text, '<UnknownOperationException/>\n');
    const spaced = await rawCall(server.port, 'ListStreams', '{}', {
      'Content-Type': '   application/x-amz-json-1.1   ;whatever',
    });
    assert.equal(spaced.status, 200);
  });

  test('a request body over the bound is refused with 413 before it is read whole', async () => {
    const res = await rawCall(server.port, 'PutRecord', 'x'.repeat(17 * 1024 * 1024));
    assert.equal(res.status, 413);
    assert.equal(res.body.__type, 'SerializationException');
  });

  test('every operation of the API model has a handler', () => {
    assert.deepEqual(
      knownOperations().filter((operation) => operations[operation] === undefined),
      [],
    );
  });

  test('operations of the newest SDK that the model does not have are unknown', async () => {
    const res = await rawCall(server.port, 'CreateChannel', { ChannelName: 'x' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { __type: 'UnknownOperationException' });
  });

  test('/health answers without touching the store', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      status: string;
      resources: Array<{ name: string; headroom: number }>;
    };
    assert.equal(body.status, 'ok');
    assert.deepEqual(
      body.resources.map((r) => r.name),
      [
        'connections',
        'in_flight_requests',
        'in_flight_body_bytes',
        'subscriptions',
        'event_loop_delay_p99',
        'store_append_wait',
        'heap_used',
        'open_files',
      ],
    );
    for (const r of body.resources) assert.ok(r.headroom > 0 && r.headroom <= 1, `${r.name} has headroom`);
  });
});
