/**
 * SigV4 verification and resource policy enforcement (`sluice serve --auth`), driven by the real
 * clients: the AWS SDK v3 over its default HTTP/2 handler and over HTTP/1.1, hand-signed requests
 * (the SDK's own signer) for the cases a client cannot be made to send, the AWS CLI and boto3.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CreateStreamCommand,
  DecreaseStreamRetentionPeriodCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetResourcePolicyCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordCommand,
  PutResourcePolicyCommand,
} from '@aws-sdk/client-kinesis';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Sluice } from '../src/app.js';
import { NodeSha256 } from '../src/protocol/sigv4.js';
import type { CredentialEntry } from '../src/server/auth.js';
import { kinesisClient, rawCall, startTestServer, testCredentials } from './helpers.js';

const ACCOUNT = '000000000000';
const OTHER = '111122223333';
const arnOf = (name: string) => `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${name}`;

const alice = {
  accessKeyId: 'AKIDALICE',
  secretAccessKey: 'alice-secret',
  principal: `arn:aws:iam::${ACCOUNT}:user/alice`,
};
const bob = {
  accessKeyId: 'AKIDBOB',
  secretAccessKey: 'bob-secret',
  principal: `arn:aws:iam::${ACCOUNT}:user/bob`,
};
/** A principal of another account, named by its account id (its root). */
const carol = { accessKeyId: 'AKIDCAROL', secretAccessKey: 'carol-secret', principal: OTHER };
/** A role session of the other account. */
const dave = {
  accessKeyId: 'AKIDDAVE',
  secretAccessKey: 'dave-secret',
  principal: `arn:aws:sts::${OTHER}:assumed-role/Reader/dave`,
};
const temporary = { accessKeyId: 'ASIATEMP', secretAccessKey: 'temp-secret', sessionToken: 'temp-token' };
const cliKey = { accessKeyId: 'AKIDSLUICECLI', secretAccessKey: 'sluice-cli-secret' };
const botoKey = { accessKeyId: 'AKIDSLUICEBOTO', secretAccessKey: 'sluice-boto-secret' };
const keys: CredentialEntry[] = [testCredentials, alice, bob, carol, dave, temporary, cliKey, botoKey];

const messages = {
  mismatch:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  unknownKey: 'The security token included in the request is invalid.',
  badToken: 'The security token included in the request is invalid',
};
const basic = '(\\d{8}T\\d{6}Z)';
const expiredPattern = new RegExp(
  `^Signature expired: ${basic} is now earlier than ${basic} \\(${basic} - 5 min\\.\\)$`,
);
const notYetPattern = new RegExp(
  `^Signature not yet current: ${basic} is still later than ${basic} \\(${basic} \\+ 5 min\\.\\)$`,
);
const fromBasic = (text: string) =>
  Date.UTC(
    Number(text.slice(0, 4)),
    Number(text.slice(4, 6)) - 1,
    Number(text.slice(6, 8)),
    Number(text.slice(9, 11)),
    Number(text.slice(11, 13)),
    Number(text.slice(13, 15)),
  );

interface ServiceError {
  name: string;
  message: string;
  $metadata: { httpStatusCode?: number };
}

/** Run a command that must fail; resolves with the service error. */
/** Any command of the client (the SDK's command types do not share a usable common type). */
type AnyCommand = object;

async function failure(client: KinesisClient, command: AnyCommand): Promise<ServiceError> {
  try {
    await client.send(command as Parameters<KinesisClient['send']>[0]);
  } catch (error) {
    return error as ServiceError;
  }
  assert.fail(`${command.constructor.name} succeeded`);
}

async function assertRefused(
  client: KinesisClient,
  command: AnyCommand,
  name: string,
  message: string | RegExp,
): Promise<ServiceError> {
  const error = await failure(client, command);
  assert.equal(error.name, name, error.message);
  if (typeof message === 'string') assert.equal(error.message, message);
  else assert.match(error.message, message);
  assert.equal(error.$metadata.httpStatusCode, 400);
  return error;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function parse(text: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { text };
  }
}

/** POST over HTTP/1.1 with exactly these headers (Host included). */
function post1(port: number, headers: Record<string, string>, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** POST over HTTP/2 (prior knowledge): the host travels as `:authority`, never as a header. */
function post2(port: number, headers: Record<string, string>, body: string): Promise<Answer> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  return new Promise<Answer>((resolve, reject) => {
    const { host, ...rest } = headers;
    const req = session.request({
      ':method': 'POST',
      ':path': '/',
      ':authority': host ?? `127.0.0.1:${port}`,
      ...rest,
    });
    let status = 0;
    let text = '';
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => resolve({ status, body: parse(text) }));
    req.on('error', reject);
    req.end(body);
  }).finally(() => session.close());
}

/** Sign a JSON request with the SDK's signer, with any scope or date. */
async function sign(
  port: number,
  key: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  operation: string,
  body: string,
  options: { region?: string; service?: string; date?: Date; checksumHeader?: boolean } = {},
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    applyChecksum: options.checksumHeader ?? true,
    service: options.service ?? 'kinesis',
    region: options.region ?? 'us-east-1',
    credentials: key,
    sha256: NodeSha256 as unknown as ConstructorParameters<typeof SignatureV4>[0]['sha256'],
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path: '/',
      query: {},
      headers: {
        host: `127.0.0.1:${port}`,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `Kinesis_20131202.${operation}`,
      },
      body,
    },
    { signingDate: options.date ?? new Date() },
  );
  return signed.headers as Record<string, string>;
}

describe('SigV4 verification with --auth', () => {
  let server: Sluice;
  let port: number;
  const client = (
    key: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
    http1 = false,
  ) => kinesisClient(port, { credentials: key, http1 });

  before(async () => {
    server = await startTestServer({ auth: { credentials: keys } });
    port = server.port;
  });
  after(() => server.close());

  for (const http1 of [false, true]) {
    const over = http1 ? 'HTTP/1.1' : 'HTTP/2';

    test(`the SDK over ${over}: a configured key is accepted`, async () => {
      const kinesis = client(testCredentials, http1);
      const name = `auth-ok-${http1 ? 'h1' : 'h2'}`;
      await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
      const put = await kinesis.send(
        new PutRecordCommand({ StreamName: name, PartitionKey: 'a', Data: Buffer.from('signed') }),
      );
      assert.equal(put.ShardId, 'shardId-000000000000');
      const listed = await kinesis.send(new ListStreamsCommand({}));
      assert.ok(listed.StreamNames?.includes(name));
    });

    test(`the SDK over ${over}: a wrong secret is InvalidSignatureException`, async () => {
      const kinesis = client({ accessKeyId: alice.accessKeyId, secretAccessKey: 'not-the-secret' }, http1);
      await assertRefused(
        kinesis,
        new ListStreamsCommand({}),
        'InvalidSignatureException',
        messages.mismatch,
      );
    });

    test(`the SDK over ${over}: the signature is checked before the input, as the service does`, async () => {
      const kinesis = client({ accessKeyId: alice.accessKeyId, secretAccessKey: 'not-the-secret' }, http1);
      await assertRefused(
        kinesis,
        new CreateStreamCommand({ StreamName: 'not a valid name!', ShardCount: 0 }),
        'InvalidSignatureException',
        messages.mismatch,
      );
    });

    test(`the SDK over ${over}: an unknown key is UnrecognizedClientException`, async () => {
      const kinesis = client({ accessKeyId: 'AKIDNOBODY', secretAccessKey: 'whatever' }, http1);
      await assertRefused(
        kinesis,
        new ListStreamsCommand({}),
        'UnrecognizedClientException',
        messages.unknownKey,
      );
    });

    test(`the SDK over ${over}: a signature 10 minutes old or ahead is refused`, async () => {
      const late = kinesisClient(port, { credentials: alice, http1, systemClockOffset: -10 * 60_000 });
      const before = Date.now();
      const error = await assertRefused(
        late,
        new ListStreamsCommand({}),
        'InvalidSignatureException',
        expiredPattern,
      );
      const [, signedAt = '', limit = '', now = ''] = expiredPattern.exec(error.message) ?? [];
      assert.ok(Math.abs(fromBasic(signedAt) - (before - 10 * 60_000)) < 5_000, error.message);
      assert.equal(fromBasic(limit), fromBasic(now) - 5 * 60_000);
      assert.ok(Math.abs(fromBasic(now) - Date.now()) < 5_000, error.message);

      const early = kinesisClient(port, { credentials: alice, http1, systemClockOffset: 10 * 60_000 });
      const ahead = await assertRefused(
        early,
        new ListStreamsCommand({}),
        'InvalidSignatureException',
        notYetPattern,
      );
      const [, , aheadLimit = '', aheadNow = ''] = notYetPattern.exec(ahead.message) ?? [];
      assert.equal(fromBasic(aheadLimit), fromBasic(aheadNow) + 5 * 60_000);
    });

    test(`the SDK over ${over}: session credentials need their token`, async () => {
      const listed = await client(temporary, http1).send(new ListStreamsCommand({}));
      assert.equal(listed.HasMoreStreams, false);
      await assertRefused(
        client({ ...temporary, sessionToken: 'another-token' }, http1),
        new ListStreamsCommand({}),
        'UnrecognizedClientException',
        messages.badToken,
      );
      const { sessionToken: _token, ...withoutToken } = temporary;
      await assertRefused(
        client(withoutToken, http1),
        new ListStreamsCommand({}),
        'UnrecognizedClientException',
        messages.unknownKey,
      );
      // A long-term key presented with a token is refused too.
      await assertRefused(
        client({ ...alice, sessionToken: 'stray-token' }, http1),
        new ListStreamsCommand({}),
        'UnrecognizedClientException',
        messages.badToken,
      );
    });
  }

  test('a captured request replays as sent, but not with a changed body', async () => {
    const kinesis = client(alice, true);
    await kinesis.send(new CreateStreamCommand({ StreamName: 'auth-replay', ShardCount: 1 }));
    let captured: { headers: Record<string, string>; body: string } | undefined;
    kinesis.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers: Record<string, string>; body: unknown };
        captured = { headers: { ...request.headers }, body: String(request.body) };
        return next(args);
      },
      { step: 'deserialize', name: 'captureSignedRequest' },
    );
    await kinesis.send(
      new PutRecordCommand({ StreamName: 'auth-replay', PartitionKey: 'k', Data: Buffer.from('original') }),
    );
    assert.ok(captured);
    assert.match(captured.headers.authorization ?? '', /SignedHeaders=.*host/);
    const replayed = await post1(port, captured.headers, captured.body);
    assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
    // Same length, so the signed Content-Length still holds: only the payload hash can tell.
    const changed = captured.body.replace(
      Buffer.from('original').toString('base64'),
      Buffer.from('forgery!').toString('base64'),
    );
    assert.notEqual(changed, captured.body);
    const forged = await post1(port, captured.headers, changed);
    assert.equal(forged.status, 400);
    assert.deepEqual(forged.body, { __type: 'InvalidSignatureException', message: messages.mismatch });
    // Without the x-amz-content-sha256 header (the CLI and boto3 send none) the body hash is computed.
    const bare = await sign(port, alice, 'ListStreams', '{}', { checksumHeader: false });
    assert.equal(bare['x-amz-content-sha256'], undefined);
    assert.equal((await post1(port, bare, '{}')).status, 200);
    const tampered = await post1(port, bare, '{"Limit":1}');
    assert.deepEqual(tampered.body, { __type: 'InvalidSignatureException', message: messages.mismatch });
  });

  test('HTTP/2: a client may sign host and send it as :authority', async () => {
    const headers = await sign(port, alice, 'ListStreams', '{}');
    assert.match(headers.authorization ?? '', /SignedHeaders=[^,]*host/);
    const answer = await post2(port, headers, '{}');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const wrong = await sign(port, { ...alice, secretAccessKey: 'nope' }, 'ListStreams', '{}');
    assert.deepEqual((await post2(port, wrong, '{}')).body, {
      __type: 'InvalidSignatureException',
      message: messages.mismatch,
    });
  });

  test('a credential scope for another region or service is refused with the service message', async () => {
    const region = await post1(
      port,
      await sign(port, alice, 'ListStreams', '{}', { region: 'eu-west-1' }),
      '{}',
    );
    assert.equal(region.status, 400);
    assert.deepEqual(region.body, {
      __type: 'InvalidSignatureException',
      message: 'Credential should be scoped to a valid region. ',
    });
    const service = await post1(
      port,
      await sign(port, alice, 'ListStreams', '{}', { service: 'firehose' }),
      '{}',
    );
    assert.deepEqual(service.body, {
      __type: 'InvalidSignatureException',
      message: "Credential should be scoped to correct service: 'kinesis'. ",
    });
    const both = await post1(
      port,
      await sign(port, alice, 'ListStreams', '{}', { region: 'eu-west-1', service: 'firehose' }),
      '{}',
    );
    assert.deepEqual(both.body, {
      __type: 'InvalidSignatureException',
      message:
        "Credential should be scoped to a valid region. Credential should be scoped to correct service: 'kinesis'. ",
    });
  });

  test('an X-Amz-Date that is not ISO 8601 basic format is IncompleteSignatureException', async () => {
    const headers = await sign(port, alice, 'ListStreams', '{}');
    const answer = await post1(port, { ...headers, 'x-amz-date': '2026-01-01T00:00:00Z' }, '{}');
    assert.deepEqual(answer.body, {
      __type: 'IncompleteSignatureException',
      message:
        "Date must be in ISO-8601 'basic format'. Got '2026-01-01T00:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
    });
  });

  test('the handler still answers a missing Authorization header first', async () => {
    const res = await rawCall(port, 'ListStreams', {}, { Authorization: null });
    assert.equal(res.body.__type, 'MissingAuthenticationTokenException');
    // rawCall's fixed signature is dated 2026-01-01: its date is checked first.
    const bogus = await rawCall(port, 'ListStreams', {}, { 'X-Amz-Date': '20200101T000000Z' });
    assert.equal(bogus.status, 400);
    assert.equal(bogus.body.__type, 'InvalidSignatureException');
    assert.match(String(bogus.body.message), /^Signature expired: 20200101T000000Z is now earlier than /);
  });
});

describe('resource policies with --auth', () => {
  let server: Sluice;
  let port: number;
  const stream = 'policed';
  const open = 'unpoliced';
  const client = (key: { accessKeyId: string; secretAccessKey: string }) =>
    kinesisClient(port, { credentials: key });
  const denied = (principal: string, action: string, resource: string) =>
    `User: ${principal} is not authorized to perform: kinesis:${action} on resource: ${resource} with an explicit deny in a resource-based policy`;
  const notAllowed = (principal: string, action: string, resource?: string) =>
    `User: ${principal} is not authorized to perform: kinesis:${action}${resource ? ` on resource: ${resource}` : ''} because no resource-based policy allows the kinesis:${action} action`;

  before(async () => {
    server = await startTestServer({ auth: { credentials: keys } });
    port = server.port;
    const owner = client(testCredentials);
    for (const name of [stream, open])
      await owner.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'DenyAlicePut',
          Effect: 'Deny',
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/alice` },
          Action: 'kinesis:PutRecord',
          Resource: arnOf(stream),
        },
        {
          Sid: 'DenyBobReads',
          Effect: 'Deny',
          Principal: { AWS: [`arn:aws:iam::${ACCOUNT}:user/bob`] },
          Action: 'kinesis:Get*',
          Resource: `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/polic*`,
        },
        {
          Sid: 'AllowOtherAccountWrites',
          Effect: 'Allow',
          Principal: { AWS: OTHER },
          Action: ['kinesis:PutRecord', 'kinesis:DescribeStreamSummary', 'kinesis:GetResourcePolicy'],
          Resource: arnOf(stream),
        },
        {
          Sid: 'AllowReaderRole',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${OTHER}:role/Reader` },
          Action: ['kinesis:GetShardIterator', 'kinesis:GetRecords'],
          Resource: arnOf(stream),
        },
        {
          Sid: 'ConditionalAllow',
          Effect: 'Allow',
          Principal: { AWS: OTHER },
          Action: 'kinesis:ListShards',
          Resource: arnOf(stream),
          Condition: { Bool: { 'aws:SecureTransport': 'true' } },
        },
        {
          Sid: 'ConditionalDeny',
          Effect: 'Deny',
          Principal: '*',
          Action: 'kinesis:DecreaseStreamRetentionPeriod',
          Resource: arnOf(stream),
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    };
    await owner.send(
      new PutResourcePolicyCommand({ ResourceARN: arnOf(stream), Policy: JSON.stringify(policy) }),
    );
  });
  after(() => server.close());

  const record = (ref: { StreamName?: string; StreamARN?: string }) =>
    new PutRecordCommand({ ...ref, PartitionKey: 'p', Data: Buffer.from('x') });

  test('an explicit deny refuses that principal and no other', async () => {
    await assertRefused(
      client(alice),
      record({ StreamName: stream }),
      'AccessDeniedException',
      denied(alice.principal, 'PutRecord', arnOf(stream)),
    );
    // The same refusal whichever way the stream is named.
    await assertRefused(
      client(alice),
      record({ StreamARN: arnOf(stream) }),
      'AccessDeniedException',
      denied(alice.principal, 'PutRecord', arnOf(stream)),
    );
    const put = await client(bob).send(record({ StreamName: stream }));
    assert.ok(put.SequenceNumber);
    await client(testCredentials).send(record({ StreamName: stream }));
    // Other actions and other streams stay allowed for alice.
    await client(alice).send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    await client(alice).send(record({ StreamName: open }));
  });

  test('action and resource wildcards; GetRecords is judged on the iterator’s stream', async () => {
    await assertRefused(
      client(bob),
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
      'AccessDeniedException',
      denied(bob.principal, 'GetShardIterator', arnOf(stream)),
    );
    const { ShardIterator } = await client(testCredentials).send(
      new GetShardIteratorCommand({
        StreamName: stream,
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    await assertRefused(
      client(bob),
      new GetRecordsCommand({ ShardIterator }),
      'AccessDeniedException',
      denied(bob.principal, 'GetRecords', arnOf(stream)),
    );
    const read = await client(alice).send(new GetRecordsCommand({ ShardIterator }));
    assert.ok((read.Records ?? []).length >= 1);
  });

  test('another account needs an Allow, by ARN; never account-level or policy operations', async () => {
    const put = await client(carol).send(record({ StreamARN: arnOf(stream) }));
    assert.ok(put.SequenceNumber);
    await client(carol).send(new DescribeStreamSummaryCommand({ StreamARN: arnOf(stream) }));
    const root = `arn:aws:iam::${OTHER}:root`;
    // A stream named without an ARN is in the caller's own account.
    await assertRefused(
      client(carol),
      record({ StreamName: stream }),
      'AccessDeniedException',
      notAllowed(root, 'PutRecord', `arn:aws:kinesis:us-east-1:${OTHER}:stream/${stream}`),
    );
    await assertRefused(
      client(carol),
      record({ StreamARN: arnOf(open) }),
      'AccessDeniedException',
      notAllowed(root, 'PutRecord', arnOf(open)),
    );
    await assertRefused(
      client(carol),
      new ListStreamsCommand({}),
      'AccessDeniedException',
      notAllowed(root, 'ListStreams'),
    );
    // An Allow with a Condition grants nothing.
    await assertRefused(
      client(carol),
      new ListShardsCommand({ StreamARN: arnOf(stream) }),
      'AccessDeniedException',
      notAllowed(root, 'ListShards', arnOf(stream)),
    );
    // Resource policies are managed by the owning account only, whatever the policy says.
    await assertRefused(
      client(carol),
      new GetResourcePolicyCommand({ ResourceARN: arnOf(stream) }),
      'AccessDeniedException',
      `User: ${root} is not authorized to perform: kinesis:GetResourcePolicy on resource: ${arnOf(stream)}`,
    );
  });

  test('a role principal covers its sessions', async () => {
    const { ShardIterator } = await client(dave).send(
      new GetShardIteratorCommand({
        StreamARN: arnOf(stream),
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const read = await client(dave).send(new GetRecordsCommand({ ShardIterator, StreamARN: arnOf(stream) }));
    assert.ok((read.Records ?? []).length >= 1);
    // The account's other grants cover the session too, but nothing else does.
    await client(dave).send(record({ StreamARN: arnOf(stream) }));
    await assertRefused(
      client(dave),
      new ListShardsCommand({ StreamARN: arnOf(stream) }),
      'AccessDeniedException',
      notAllowed(dave.principal, 'ListShards', arnOf(stream)),
    );
    // The account's root is not the role.
    await assertRefused(
      client(carol),
      new GetShardIteratorCommand({
        StreamARN: arnOf(stream),
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
      'AccessDeniedException',
      notAllowed(`arn:aws:iam::${OTHER}:root`, 'GetShardIterator', arnOf(stream)),
    );
  });

  test('a Deny with a Condition applies as if the condition held', async () => {
    await assertRefused(
      client(testCredentials),
      new DecreaseStreamRetentionPeriodCommand({ StreamName: stream, RetentionPeriodHours: 24 }),
      'AccessDeniedException',
      denied(`arn:aws:iam::${ACCOUNT}:root`, 'DecreaseStreamRetentionPeriod', arnOf(stream)),
    );
  });
});

describe('without --auth', () => {
  let server: Sluice;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  test('any well-formed signature is accepted', async () => {
    const res = await rawCall(server.port, 'ListStreams', {});
    assert.equal(res.status, 200);
    const wrong = kinesisClient(server.port, {
      credentials: { accessKeyId: 'anything', secretAccessKey: 'wrong' },
    });
    const listed = await wrong.send(new ListStreamsCommand({}));
    assert.equal(listed.HasMoreStreams, false);
  });
});

describe('access keys from a file and the environment', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-auth-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a credentials file and SLUICE_ACCESS_KEY_ID/SLUICE_SECRET_ACCESS_KEY', async () => {
    const file = join(dir, 'credentials.json');
    writeFileSync(file, JSON.stringify([{ accessKeyId: 'AKIDFILE', secretAccessKey: 'file-secret' }]));
    const server = await startTestServer({
      auth: {
        credentialsFile: file,
        env: { SLUICE_ACCESS_KEY_ID: 'AKIDENV', SLUICE_SECRET_ACCESS_KEY: 'env-secret' },
      },
    });
    try {
      for (const key of [
        { accessKeyId: 'AKIDFILE', secretAccessKey: 'file-secret' },
        { accessKeyId: 'AKIDENV', secretAccessKey: 'env-secret' },
      ]) {
        const listed = await kinesisClient(server.port, { credentials: key }).send(
          new ListStreamsCommand({}),
        );
        assert.equal(listed.HasMoreStreams, false);
      }
      await assertRefused(
        kinesisClient(server.port, {
          credentials: { accessKeyId: 'AKIDFILE', secretAccessKey: 'env-secret' },
        }),
        new ListStreamsCommand({}),
        'InvalidSignatureException',
        messages.mismatch,
      );
    } finally {
      await server.close();
    }
  });

  test('a missing or malformed configuration fails at start-up', async () => {
    await assert.rejects(startTestServer({ auth: {} }), /authentication needs access keys/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"accessKeyId": "x"}');
    await assert.rejects(startTestServer({ auth: { credentialsFile: bad } }), /expected a JSON array/);
    writeFileSync(bad, JSON.stringify([{ accessKeyId: 'A', secretAccessKey: 's', principal: 'alice' }]));
    await assert.rejects(startTestServer({ auth: { credentialsFile: bad } }), /principal must be/);
    writeFileSync(
      bad,
      JSON.stringify([
        { accessKeyId: 'A', secretAccessKey: 's' },
        { accessKeyId: 'A', secretAccessKey: 't' },
      ]),
    );
    await assert.rejects(startTestServer({ auth: { credentialsFile: bad } }), /given twice/);
    await assert.rejects(
      startTestServer({ auth: { credentialsFile: join(dir, 'missing.json') } }),
      /cannot read/,
    );
  });

  test('sluice serve --auth with keys from the environment', async () => {
    const bin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
    const refused = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [bin, 'serve', '--memory', '--credentials-file', 'x.json'],
        (error, _out, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }),
      );
    });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /--credentials-file needs --auth/);

    const child = spawn(process.execPath, [bin, 'serve', '--memory', '--port', '0', '--auth'], {
      env: { ...process.env, SLUICE_ACCESS_KEY_ID: 'AKIDCLI', SLUICE_SECRET_ACCESS_KEY: 'cli-env-secret' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const childPort = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
          if (match) resolve(Number(match[1]));
        });
        child.once('exit', (code) => reject(new Error(`sluice exited with ${code}`)));
      });
      const listed = await kinesisClient(childPort, {
        credentials: { accessKeyId: 'AKIDCLI', secretAccessKey: 'cli-env-secret' },
      }).send(new ListStreamsCommand({}));
      assert.equal(listed.HasMoreStreams, false);
      await assertRefused(
        kinesisClient(childPort, { credentials: { accessKeyId: 'AKIDCLI', secretAccessKey: 'nope' } }),
        new ListStreamsCommand({}),
        'InvalidSignatureException',
        messages.mismatch,
      );
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('other signers: the AWS CLI and boto3 (HTTP/1.1)', () => {
  let server: Sluice;
  let workDir: string;
  before(async () => {
    server = await startTestServer({ auth: { credentials: keys } });
    workDir = mkdtempSync(join(tmpdir(), 'sluice-auth-cli-'));
  });
  after(async () => {
    await server.close();
    rmSync(workDir, { recursive: true, force: true });
  });

  function run(
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      execFile(command, args, { env, timeout: 60_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
        if (error && (error.killed || typeof error.code !== 'number')) {
          reject(new Error(`${command} did not finish: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      });
    });
  }

  const cli = (secret: string) =>
    run(
      '/usr/bin/aws',
      [
        '--endpoint-url',
        `http://127.0.0.1:${server.port}`,
        '--region',
        'us-east-1',
        '--output',
        'json',
        'kinesis',
        'list-streams',
      ],
      {
        PATH: '/usr/bin:/bin',
        HOME: workDir,
        LANG: 'C.UTF-8',
        LC_ALL: 'C.UTF-8',
        AWS_ACCESS_KEY_ID: cliKey.accessKeyId,
        AWS_SECRET_ACCESS_KEY: secret,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_PAGER: '',
        AWS_CLI_AUTO_PROMPT: 'off',
        AWS_MAX_ATTEMPTS: '1',
        AWS_RETRY_MODE: 'standard',
        AWS_EC2_METADATA_DISABLED: 'true',
        NO_PROXY: '127.0.0.1,localhost',
      },
    );

  test('the AWS CLI signs with its own signer: right and wrong secret', async () => {
    const ok = await cli(cliKey.secretAccessKey);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(Array.isArray(JSON.parse(ok.stdout).StreamNames), ok.stdout);
    const wrong = await cli('not-the-secret');
    assert.equal(wrong.code, 254, wrong.stderr);
    assert.match(
      wrong.stderr.trim(),
      new RegExp(
        `^An error occurred \\(InvalidSignatureException\\) when calling the ListStreams operation( \\(reached max retries: 0\\))?: ${messages.mismatch.replace(/[.()]/g, '\\$&')}$`,
      ),
    );
  });

  test('boto3 signs with botocore: right and wrong secret', async () => {
    const script = `
import json, sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
endpoint, key, secret = sys.argv[1:4]
def client(s):
    return boto3.client('kinesis', endpoint_url=endpoint, region_name='us-east-1',
        aws_access_key_id=key, aws_secret_access_key=s,
        config=Config(retries={'max_attempts': 1, 'mode': 'standard'}))
out = {}
k = client(secret)
k.create_stream(StreamName='boto-auth', ShardCount=1)
out['put'] = k.put_record(StreamName='boto-auth', PartitionKey='p', Data=b'boto')['ShardId']
out['names'] = k.list_streams()['StreamNames']
try:
    client('wrong').list_streams()
    out['wrong'] = None
except ClientError as e:
    out['wrong'] = {'code': e.response['Error']['Code'], 'message': e.response['Error']['Message'],
                    'status': e.response['ResponseMetadata']['HTTPStatusCode']}
print(json.dumps(out))
`;
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (/^(AWS_|BOTO_)/i.test(name) || /_proxy$/i.test(name)) continue;
      env[name] = value;
    }
    const result = await run(
      'python3',
      ['-c', script, `http://127.0.0.1:${server.port}`, botoKey.accessKeyId, botoKey.secretAccessKey],
      {
        ...env,
        AWS_CONFIG_FILE: '/dev/null',
        AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        AWS_EC2_METADATA_DISABLED: 'true',
        NO_PROXY: '127.0.0.1,localhost',
      },
    );
    assert.equal(result.code, 0, result.stderr);
    const out = JSON.parse(result.stdout) as { put: string; names: string[]; wrong: unknown };
    assert.equal(out.put, 'shardId-000000000000');
    assert.ok(out.names.includes('boto-auth'));
    assert.deepEqual(out.wrong, {
      code: 'InvalidSignatureException',
      message: messages.mismatch,
      status: 400,
    });
  });
});
