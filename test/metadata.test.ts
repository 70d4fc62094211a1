/**
 * Stream metadata operations through the AWS SDK v3 (default HTTP/2 handler): tags by stream and
 * by ARN, resource policies and the retention period, with the service's errors for invalid inputs
 * and for streams in states that refuse a change.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DecreaseStreamRetentionPeriodCommand,
  DeleteResourcePolicyCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetResourcePolicyCommand,
  GetShardIteratorCommand,
  IncreaseStreamRetentionPeriodCommand,
  type KinesisClient,
  ListTagsForResourceCommand,
  ListTagsForStreamCommand,
  PutRecordCommand,
  PutResourcePolicyCommand,
  RemoveTagsFromStreamCommand,
  TagResourceCommand,
  UntagResourceCommand,
} from '@aws-sdk/client-kinesis';
import type { Sluice } from '../src/app.js';
import { kinesisClient, startTestServer } from './helpers.js';

const account = '000000000000';
const arnOf = (name: string) => `arn:aws:kinesis:us-east-1:${account}:stream/${name}`;
const notFound = (name: string, acct = account) => ({
  name: 'ResourceNotFoundException',
  message: `Stream ${name} under account ${acct} not found.`,
});
const invalid = (message: string) => ({ name: 'InvalidArgumentException', message });
const inUse = (name: string, state: string) => ({
  name: 'ResourceInUseException',
  message: `Stream ${name} under account ${account} not ACTIVE, instead in state ${state}`,
});
const badChars = invalid(
  'Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @ :.',
);
const illegalChars = (change: 'add tags to' | 'remove tags from', name: string) =>
  invalid(
    `Failed to ${change} stream ${name} under account ${account} because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'.`,
  );
const tooManyTags = (name: string) =>
  invalid(
    `Failed to add tags to stream ${name} under account ${account} because a given stream cannot have more than 50 tags associated with it.`,
  );

/** The output members of a response, without the SDK's $metadata. */
function body(output: { $metadata?: unknown }): Record<string, unknown> {
  const { $metadata: _metadata, ...rest } = output;
  return rest;
}

/** `count` tags named `<prefix><n>`. */
function manyTags(count: number, prefix: string): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, `v${i}`]));
}

describe('stream metadata: tags, resource policies, retention', { timeout: 60_000 }, () => {
  let server: Sluice;
  let client: KinesisClient;

  const create = (name: string, shards = 1) =>
    client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  const tagsOf = async (name: string) =>
    body(await client.send(new ListTagsForStreamCommand({ StreamName: name })));

  before(async () => {
    server = await startTestServer();
    client = kinesisClient(server.port);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('AddTagsToStream, ListTagsForStream and RemoveTagsFromStream', async () => {
    await create('tags');
    assert.deepEqual(await tagsOf('tags'), { Tags: [], HasMoreTags: false });

    const added = await client.send(
      new AddTagsToStreamCommand({
        StreamName: 'tags',
        Tags: { b: '2', a: '1', 'ü0 _.': 'x', '/=+-@:': 'y', c: '' },
      }),
    );
    assert.equal(added.$metadata.httpStatusCode, 200);
    assert.deepEqual(body(added), {});
    // Sorted by key; an empty value is listed as such.
    assert.deepEqual(await tagsOf('tags'), {
      Tags: [
        { Key: '/=+-@:', Value: 'y' },
        { Key: 'a', Value: '1' },
        { Key: 'b', Value: '2' },
        { Key: 'c', Value: '' },
        { Key: 'ü0 _.', Value: 'x' },
      ],
      HasMoreTags: false,
    });

    // An existing key is overwritten; the stream can be named by its ARN.
    await client.send(new AddTagsToStreamCommand({ StreamARN: arnOf('tags'), Tags: { a: 'one' } }));
    const page = (input: { ExclusiveStartTagKey?: string; Limit?: number }) =>
      client.send(new ListTagsForStreamCommand({ StreamARN: arnOf('tags'), ...input })).then(body);
    assert.deepEqual(await page({ Limit: 2 }), {
      Tags: [
        { Key: '/=+-@:', Value: 'y' },
        { Key: 'a', Value: 'one' },
      ],
      HasMoreTags: true,
    });
    assert.deepEqual(await page({ ExclusiveStartTagKey: 'a', Limit: 2 }), {
      Tags: [
        { Key: 'b', Value: '2' },
        { Key: 'c', Value: '' },
      ],
      HasMoreTags: true,
    });
    assert.deepEqual(await page({ ExclusiveStartTagKey: 'c', Limit: 2 }), {
      Tags: [{ Key: 'ü0 _.', Value: 'x' }],
      HasMoreTags: false,
    });
    // A start key that is not a tag still pages from its place in the order.
    assert.deepEqual(await page({ ExclusiveStartTagKey: 'bb' }), {
      Tags: [
        { Key: 'c', Value: '' },
        { Key: 'ü0 _.', Value: 'x' },
      ],
      HasMoreTags: false,
    });

    // Removing a key the stream does not have is not an error.
    const removed = await client.send(
      new RemoveTagsFromStreamCommand({ StreamName: 'tags', TagKeys: ['a', 'ü0 _.', 'missing'] }),
    );
    assert.deepEqual(body(removed), {});
    assert.deepEqual(await tagsOf('tags'), {
      Tags: [
        { Key: '/=+-@:', Value: 'y' },
        { Key: 'b', Value: '2' },
        { Key: 'c', Value: '' },
      ],
      HasMoreTags: false,
    });
  });

  test('a stream has at most 50 tags, however many calls bring them', async () => {
    await create('many');
    // 50 in one call are accepted (the per-call limit of 10 is gone).
    await client.send(new AddTagsToStreamCommand({ StreamName: 'many', Tags: manyTags(50, 'k') }));
    const listed = await client.send(new ListTagsForStreamCommand({ StreamName: 'many' }));
    assert.equal(listed.Tags?.length, 50);
    assert.equal(listed.HasMoreTags, false);
    // Overwriting keeps the count; one more key is refused and nothing of the call is applied.
    await client.send(new AddTagsToStreamCommand({ StreamName: 'many', Tags: { k7: 'new' } }));
    await assert.rejects(
      client.send(new AddTagsToStreamCommand({ StreamName: 'many', Tags: { k8: 'changed', extra: 'x' } })),
      tooManyTags('many'),
    );
    const after = await client.send(new ListTagsForStreamCommand({ StreamName: 'many', Limit: 50 }));
    const values = Object.fromEntries((after.Tags ?? []).map((t) => [t.Key, t.Value]));
    assert.equal(Object.keys(values).length, 50);
    assert.equal(values.k7, 'new');
    assert.equal(values.k8, 'v8');
    assert.equal(values.extra, undefined);

    await create('many-at-once');
    await assert.rejects(
      client.send(new AddTagsToStreamCommand({ StreamName: 'many-at-once', Tags: manyTags(51, 't') })),
      tooManyTags('many-at-once'),
    );
    await assert.rejects(
      client.send(new TagResourceCommand({ ResourceARN: arnOf('many'), Tags: { another: '1' } })),
      tooManyTags('many'),
    );
  });

  test('tag characters: the service messages for invalid and illegal characters', async () => {
    await create('chars');
    const invalidTags: Array<Record<string, string>> = [
      { 'abc;def': '1' },
      { 'abc\tdef': '1' },
      { 'abc,def': '1' },
      { a: 'abc\ndef' },
    ];
    for (const tags of invalidTags) {
      await assert.rejects(
        client.send(new AddTagsToStreamCommand({ StreamName: 'chars', Tags: tags })),
        badChars,
      );
    }
    const percentTags: Array<Record<string, string>> = [{ 'abc%def': '1' }, { a: 'abc%def' }];
    for (const tags of percentTags) {
      await assert.rejects(
        client.send(new AddTagsToStreamCommand({ StreamName: 'chars', Tags: tags })),
        illegalChars('add tags to', 'chars'),
      );
    }
    await assert.rejects(
      client.send(new RemoveTagsFromStreamCommand({ StreamName: 'chars', TagKeys: ['abc;def'] })),
      badChars,
    );
    await assert.rejects(
      client.send(new RemoveTagsFromStreamCommand({ StreamName: 'chars', TagKeys: ['abc%def'] })),
      illegalChars('remove tags from', 'chars'),
    );
    // The stream is looked up before the characters are checked.
    await assert.rejects(
      client.send(new RemoveTagsFromStreamCommand({ StreamName: 'nope', TagKeys: [';'] })),
      notFound('nope'),
    );
    await assert.rejects(
      client.send(new AddTagsToStreamCommand({ StreamName: 'nope', Tags: { a: 'b' } })),
      notFound('nope'),
    );
    await assert.rejects(client.send(new ListTagsForStreamCommand({ StreamName: 'nope' })), notFound('nope'));
    // Letters of any script, digits, spaces and _ . : / = + - @ are fine; nothing was stored before.
    await client.send(
      new AddTagsToStreamCommand({ StreamName: 'chars', Tags: { 'Ключ 7 _.:/=+-@': '値 ü' } }),
    );
    assert.deepEqual(await tagsOf('chars'), {
      Tags: [{ Key: 'Ключ 7 _.:/=+-@', Value: '値 ü' }],
      HasMoreTags: false,
    });
  });

  test('TagResource, UntagResource and ListTagsForResource on a stream ARN', async () => {
    await create('arn-tags');
    const ResourceARN = arnOf('arn-tags');
    const tagged = await client.send(
      new TagResourceCommand({ ResourceARN, Tags: { team: 'data', env: 'test' } }),
    );
    assert.deepEqual(body(tagged), {});
    assert.deepEqual(body(await client.send(new ListTagsForResourceCommand({ ResourceARN }))), {
      Tags: [
        { Key: 'env', Value: 'test' },
        { Key: 'team', Value: 'data' },
      ],
    });
    // The same tags as the stream-addressed operations see.
    assert.deepEqual((await tagsOf('arn-tags')).Tags, [
      { Key: 'env', Value: 'test' },
      { Key: 'team', Value: 'data' },
    ]);
    const untagged = await client.send(new UntagResourceCommand({ ResourceARN, TagKeys: ['env', 'absent'] }));
    assert.deepEqual(body(untagged), {});
    assert.deepEqual(body(await client.send(new ListTagsForResourceCommand({ ResourceARN }))), {
      Tags: [{ Key: 'team', Value: 'data' }],
    });

    await assert.rejects(
      client.send(new TagResourceCommand({ ResourceARN, Tags: { 'a%b': '1' } })),
      illegalChars('add tags to', 'arn-tags'),
    );
    await assert.rejects(client.send(new UntagResourceCommand({ ResourceARN, TagKeys: ['a;b'] })), badChars);
    await assert.rejects(
      client.send(new ListTagsForResourceCommand({ ResourceARN: arnOf('nope') })),
      notFound('nope'),
    );
    await assert.rejects(
      client.send(
        new TagResourceCommand({
          ResourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/arn-tags',
          Tags: { a: 'b' },
        }),
      ),
      notFound('arn-tags', '123456789012'),
    );
    // Consumers do not exist yet: a consumer ARN names a missing consumer (or a missing stream).
    const consumer = `${ResourceARN}/consumer/reader:1700000000`;
    await assert.rejects(client.send(new ListTagsForResourceCommand({ ResourceARN: consumer })), {
      name: 'ResourceNotFoundException',
      message: `Consumer reader with creation timestamp 1700000000 under stream arn-tags and account ${account} not found.`,
    });
    await assert.rejects(
      client.send(new TagResourceCommand({ ResourceARN: `${arnOf('nope')}/consumer/c:1`, Tags: { a: 'b' } })),
      notFound('nope'),
    );
  });

  test('resource policies: put, get, replace, delete', async () => {
    await create('pol');
    const ResourceARN = arnOf('pol');
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Id: 'writePolicy',
      Statement: [
        {
          Sid: 'write',
          Effect: 'Allow',
          Principal: { AWS: '123456789012' },
          Action: ['kinesis:DescribeStreamSummary', 'kinesis:ListShards', 'kinesis:PutRecord'],
          Resource: ResourceARN,
        },
      ],
    });
    // Without a policy the output carries an empty document, and there is nothing to delete.
    assert.deepEqual(body(await client.send(new GetResourcePolicyCommand({ ResourceARN }))), {
      Policy: '{}',
    });
    await assert.rejects(client.send(new DeleteResourcePolicyCommand({ ResourceARN })), {
      name: 'ResourceNotFoundException',
      message: `No resource policy found for resource ARN ${ResourceARN}.`,
    });

    const put = await client.send(new PutResourcePolicyCommand({ ResourceARN, Policy: policy }));
    assert.deepEqual(body(put), {});
    assert.deepEqual(body(await client.send(new GetResourcePolicyCommand({ ResourceARN }))), {
      Policy: policy,
    });

    // The text is kept as given (whitespace included) and a second put replaces the first.
    const replacement = `{
  "Version": "2008-10-17",
  "Statement": {
    "Effect": "Deny",
    "NotPrincipal": { "AWS": ["arn:aws:iam::123456789012:root", "*"], "Service": "lambda.amazonaws.com" },
    "NotAction": "kinesis:*",
    "NotResource": ["*"],
    "Condition": { "StringEquals": { "aws:SourceAccount": ["123456789012"] }, "Bool": { "aws:SecureTransport": false } }
  }
}`;
    await client.send(new PutResourcePolicyCommand({ ResourceARN, Policy: replacement }));
    assert.equal((await client.send(new GetResourcePolicyCommand({ ResourceARN }))).Policy, replacement);

    assert.deepEqual(body(await client.send(new DeleteResourcePolicyCommand({ ResourceARN }))), {});
    assert.equal((await client.send(new GetResourcePolicyCommand({ ResourceARN }))).Policy, '{}');

    await assert.rejects(
      client.send(new GetResourcePolicyCommand({ ResourceARN: arnOf('nope') })),
      notFound('nope'),
    );
    await assert.rejects(
      client.send(new PutResourcePolicyCommand({ ResourceARN: arnOf('nope'), Policy: policy })),
      notFound('nope'),
    );
    await assert.rejects(
      client.send(new DeleteResourcePolicyCommand({ ResourceARN: `${ResourceARN}/consumer/c:17` })),
      {
        name: 'ResourceNotFoundException',
        message: `Consumer c with creation timestamp 17 under stream pol and account ${account} not found.`,
      },
    );
  });

  test('resource policies: invalid documents are refused with InvalidArgumentException', async () => {
    await create('bad-pol');
    const ResourceARN = arnOf('bad-pol');
    const statement = {
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${account}:role/reader` },
      Action: 'kinesis:GetRecords',
      Resource: ResourceARN,
    };
    const withStatement = (change: Record<string, unknown>, drop: string[] = []) => {
      const s: Record<string, unknown> = { ...statement, ...change };
      for (const key of drop) delete s[key];
      return JSON.stringify({ Version: '2012-10-17', Statement: [s] });
    };
    const cases: Array<[string, string]> = [
      ['{"Version": ', 'This policy contains invalid Json'],
      ['[]', 'Syntax errors in policy.'],
      ['"text"', 'Syntax errors in policy.'],
      [JSON.stringify({ Version: '2012-10-17' }), 'Syntax errors in policy.'],
      [JSON.stringify({ Version: '2012-10-17', Statement: [] }), 'Syntax errors in policy.'],
      [JSON.stringify({ Version: '2012-10-17', Statement: 'x' }), 'Syntax errors in policy.'],
      [JSON.stringify({ Version: '2013-01-01', Statement: statement }), 'Syntax errors in policy.'],
      [JSON.stringify({ Version: '2012-10-17', Statement: statement, Extra: 1 }), 'Syntax errors in policy.'],
      [withStatement({ Effect: 'Maybe' }), 'Syntax errors in policy.'],
      [withStatement({}, ['Effect']), 'Syntax errors in policy.'],
      [withStatement({ NotAction: 'kinesis:PutRecord' }), 'Syntax errors in policy.'],
      [withStatement({ NotResource: '*' }), 'Syntax errors in policy.'],
      [withStatement({ Action: [1] }), 'Syntax errors in policy.'],
      [withStatement({ Unknown: 'x' }), 'Syntax errors in policy.'],
      [withStatement({ Condition: { StringEquals: 'x' } }), 'Syntax errors in policy.'],
      [JSON.stringify({ Statement: statement }), 'Policy document must be version 2012-10-17 or greater.'],
      [
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { ...statement, Sid: 'a' },
            { ...statement, Sid: 'a' },
          ],
        }),
        'Statement IDs (SID) in a single policy must be unique.',
      ],
      [withStatement({}, ['Action']), 'Policy statement must contain actions.'],
      [withStatement({ Action: [] }), 'Policy statement must contain actions.'],
      [withStatement({}, ['Resource']), 'Policy statement must contain resources.'],
      [withStatement({ Resource: 'stream/x' }), 'Resource stream/x must be in ARN format or "*".'],
      [withStatement({}, ['Principal']), 'Missing required field Principal'],
      [withStatement({ Principal: { Bogus: 'x' } }), 'Invalid principal in policy'],
      [withStatement({ Principal: { AWS: 'someone' } }), 'Invalid principal in policy'],
      [withStatement({ Principal: { AWS: [] } }), 'Invalid principal in policy'],
      [
        withStatement({ Action: 'PutRecord' }),
        'Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.',
      ],
      [withStatement({ Action: 'kinesis:Put:Record' }), 'Actions/Condition can contain only one colon.'],
    ];
    for (const [Policy, message] of cases) {
      await assert.rejects(
        client.send(new PutResourcePolicyCommand({ ResourceARN, Policy })),
        invalid(message),
        `policy ${Policy}`,
      );
    }
    const big = withStatement({ Sid: 'x'.repeat(20 * 1024) });
    await assert.rejects(
      client.send(new PutResourcePolicyCommand({ ResourceARN, Policy: big })),
      invalid(`Policy size ${Buffer.byteLength(big)} bytes exceeds the maximum allowed size of 20480 bytes.`),
    );
    // None of them was stored.
    assert.equal((await client.send(new GetResourcePolicyCommand({ ResourceARN }))).Policy, '{}');
  });

  test('retention: increase and decrease within 24..8760 hours', async () => {
    await create('ret');
    const retention = async () =>
      (await client.send(new DescribeStreamSummaryCommand({ StreamName: 'ret' }))).StreamDescriptionSummary
        ?.RetentionPeriodHours;
    assert.equal(await retention(), 24);

    const increased = await client.send(
      new IncreaseStreamRetentionPeriodCommand({ StreamName: 'ret', RetentionPeriodHours: 48 }),
    );
    assert.deepEqual(body(increased), {});
    assert.equal(await retention(), 48);
    // Asking for the current value is accepted by both.
    await client.send(
      new IncreaseStreamRetentionPeriodCommand({ StreamName: 'ret', RetentionPeriodHours: 48 }),
    );
    await client.send(
      new DecreaseStreamRetentionPeriodCommand({ StreamName: 'ret', RetentionPeriodHours: 48 }),
    );

    await assert.rejects(
      client.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: 'ret', RetentionPeriodHours: 25 })),
      invalid(
        'Requested retention period (25 hours) for stream ret can not be shorter than existing retention period (48 hours). Use DecreaseRetentionPeriod API.',
      ),
    );
    await assert.rejects(
      client.send(
        new DecreaseStreamRetentionPeriodCommand({ StreamARN: arnOf('ret'), RetentionPeriodHours: 72 }),
      ),
      invalid(
        'Requested retention period (72 hours) for stream ret can not be longer than existing retention period (48 hours). Use IncreaseRetentionPeriod API.',
      ),
    );
    for (const Command of [IncreaseStreamRetentionPeriodCommand, DecreaseStreamRetentionPeriodCommand]) {
      await assert.rejects(
        client.send(new Command({ StreamName: 'ret', RetentionPeriodHours: 23 })),
        invalid(
          'Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short.',
        ),
      );
      await assert.rejects(
        client.send(new Command({ StreamName: 'ret', RetentionPeriodHours: 8761 })),
        invalid(
          'Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long.',
        ),
      );
      // The stream is looked up before the value is checked.
      await assert.rejects(
        client.send(new Command({ StreamName: 'nope', RetentionPeriodHours: 5 })),
        notFound('nope'),
      );
    }
    await client.send(
      new IncreaseStreamRetentionPeriodCommand({ StreamARN: arnOf('ret'), RetentionPeriodHours: 8760 }),
    );
    assert.equal(await retention(), 8760);
    const decreased = await client.send(
      new DecreaseStreamRetentionPeriodCommand({ StreamName: 'ret', RetentionPeriodHours: 24 }),
    );
    assert.deepEqual(body(decreased), {});
    assert.equal(await retention(), 24);
  });

  test('a record older than a decreased retention period disappears from GetRecords', async () => {
    await create('expiry');
    await client.send(
      new IncreaseStreamRetentionPeriodCommand({ StreamName: 'expiry', RetentionPeriodHours: 48 }),
    );
    const put = await client.send(
      new PutRecordCommand({ StreamName: 'expiry', PartitionKey: 'p', Data: Buffer.from('old') }),
    );
    const read = async () => {
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamName: 'expiry',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const out = await client.send(new GetRecordsCommand({ ShardIterator }));
      return (out.Records ?? []).map((r) => r.SequenceNumber);
    };
    assert.deepEqual(await read(), [put.SequenceNumber]);

    // The server runs in this process: move its clock 30 hours on, so the record is 30 hours old.
    const realNow = Date.now;
    Date.now = () => realNow() + 30 * 3_600_000;
    try {
      assert.deepEqual(await read(), [put.SequenceNumber], 'still within the 48-hour retention');
      await client.send(
        new DecreaseStreamRetentionPeriodCommand({ StreamName: 'expiry', RetentionPeriodHours: 24 }),
      );
      assert.deepEqual(await read(), [], 'past the decreased 24-hour retention');
    } finally {
      Date.now = realNow;
    }
    assert.equal(
      (await client.send(new DescribeStreamSummaryCommand({ StreamName: 'expiry' }))).StreamDescriptionSummary
        ?.RetentionPeriodHours,
      24,
    );
  });

  test('UPDATING: retention changes are refused, tags and policies are not', async () => {
    await create('upd');
    // No public operation leaves a stream UPDATING for long yet: set the state on the document.
    const setStatus = (status: 'ACTIVE' | 'UPDATING') =>
      server.engine.modify({ StreamName: 'upd' }, (doc) => ({ ...doc, status }));
    await setStatus('UPDATING');
    try {
      for (const Command of [IncreaseStreamRetentionPeriodCommand, DecreaseStreamRetentionPeriodCommand]) {
        await assert.rejects(
          client.send(new Command({ StreamName: 'upd', RetentionPeriodHours: 24 })),
          inUse('upd', 'UPDATING'),
        );
      }
      await client.send(new AddTagsToStreamCommand({ StreamName: 'upd', Tags: { a: 'b' } }));
      await client.send(new RemoveTagsFromStreamCommand({ StreamName: 'upd', TagKeys: ['a'] }));
      await client.send(
        new PutResourcePolicyCommand({
          ResourceARN: arnOf('upd'),
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: { Effect: 'Allow', Principal: '*', Action: 'kinesis:*', Resource: '*' },
          }),
        }),
      );
    } finally {
      await setStatus('ACTIVE');
    }
  });
});

describe('stream metadata while CREATING and DELETING', { timeout: 60_000 }, () => {
  let server: Sluice;
  let client: KinesisClient;
  const policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: { Effect: 'Allow', Principal: { AWS: account }, Action: 'kinesis:GetRecords', Resource: '*' },
  });

  before(async () => {
    // Transitions long enough to outlast the test.
    server = await startTestServer({ engine: { createStreamMs: 60_000, deleteStreamMs: 60_000 } });
    client = kinesisClient(server.port);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  /** Changes refuse the stream in `state`; reads answer. */
  async function checkState(name: string, state: string): Promise<void> {
    const refused = inUse(name, state);
    await assert.rejects(
      client.send(new AddTagsToStreamCommand({ StreamName: name, Tags: { a: 'b' } })),
      refused,
    );
    await assert.rejects(
      client.send(new RemoveTagsFromStreamCommand({ StreamName: name, TagKeys: ['a'] })),
      refused,
    );
    await assert.rejects(
      client.send(new TagResourceCommand({ ResourceARN: arnOf(name), Tags: { a: 'b' } })),
      refused,
    );
    await assert.rejects(
      client.send(new UntagResourceCommand({ ResourceARN: arnOf(name), TagKeys: ['a'] })),
      refused,
    );
    await assert.rejects(
      client.send(new PutResourcePolicyCommand({ ResourceARN: arnOf(name), Policy: policy })),
      refused,
    );
    await assert.rejects(client.send(new DeleteResourcePolicyCommand({ ResourceARN: arnOf(name) })), refused);
    await assert.rejects(
      client.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: name, RetentionPeriodHours: 48 })),
      refused,
    );
    await assert.rejects(
      client.send(new DecreaseStreamRetentionPeriodCommand({ StreamName: name, RetentionPeriodHours: 24 })),
      refused,
    );
    assert.deepEqual(body(await client.send(new ListTagsForStreamCommand({ StreamName: name }))), {
      Tags: [{ Key: 'born', Value: 'yes' }],
      HasMoreTags: false,
    });
    assert.deepEqual(body(await client.send(new ListTagsForResourceCommand({ ResourceARN: arnOf(name) }))), {
      Tags: [{ Key: 'born', Value: 'yes' }],
    });
    assert.equal(
      (await client.send(new GetResourcePolicyCommand({ ResourceARN: arnOf(name) }))).Policy,
      '{}',
    );
  }

  test('CREATING', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'young', ShardCount: 1, Tags: { born: 'yes' } }));
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'young' }));
    assert.equal(summary.StreamDescriptionSummary?.StreamStatus, 'CREATING');
    await checkState('young', 'CREATING');
  });

  test('DELETING', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'old', ShardCount: 1, Tags: { born: 'yes' } }));
    // Skip the minute of CREATING: end it on the document, as the engine's timer would.
    await server.engine.modify({ StreamName: 'old' }, ({ statusUntilMs: _until, ...doc }) => ({
      ...doc,
      status: 'ACTIVE',
    }));
    await client.send(new DeleteStreamCommand({ StreamName: 'old' }));
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'old' }));
    assert.equal(summary.StreamDescriptionSummary?.StreamStatus, 'DELETING');
    await checkState('old', 'DELETING');
  });
});
