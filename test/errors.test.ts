import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import type { Sluice } from '../src/app.js';
import { kinesisClient, rawCall, sleep, startTestServer } from './helpers.js';

const account = '000000000000';
const notFound = (name: string) => ({
  name: 'ResourceNotFoundException',
  message: `Stream ${name} under account ${account} not found.`,
});
const invalid = (message: string | RegExp) => ({ name: 'InvalidArgumentException', message });
const validation = (message: string) => ({ name: 'ValidationException', message });

describe('invalid inputs get the service errors', () => {
  let server: Sluice;
  let client: KinesisClient;
  let seqShard0 = '';
  let seqShard1 = '';

  before(async () => {
    server = await startTestServer({ engine: { shardLimit: 10, iteratorTtlMs: 300 } });
    client = kinesisClient(server.port);
    await client.send(new CreateStreamCommand({ StreamName: 'errs', ShardCount: 2 }));
    const put = await client.send(
      new PutRecordsCommand({
        StreamName: 'errs',
        Records: [
          { PartitionKey: 'a', Data: Buffer.from('x'), ExplicitHashKey: '0' },
          { PartitionKey: 'a', Data: Buffer.from('y'), ExplicitHashKey: ((1n << 128n) - 1n).toString() },
        ],
      }),
    );
    seqShard0 = put.Records?.[0]?.SequenceNumber ?? '';
    seqShard1 = put.Records?.[1]?.SequenceNumber ?? '';
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('CreateStream', async () => {
    await assert.rejects(
      client.send(new CreateStreamCommand({ StreamName: 'bad name!', ShardCount: 1 })),
      validation(
        "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
      ),
    );
    await assert.rejects(
      client.send(new CreateStreamCommand({ StreamName: 'zero', ShardCount: 0 })),
      validation(
        "1 validation error detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1",
      ),
    );
    await assert.rejects(client.send(new CreateStreamCommand({ StreamName: 'errs', ShardCount: 1 })), {
      name: 'ResourceInUseException',
      message: `Stream errs under account ${account} already exists.`,
    });
    await assert.rejects(client.send(new CreateStreamCommand({ StreamName: 'big', ShardCount: 9 })), {
      name: 'LimitExceededException',
      message:
        `This request would exceed the shard limit for the account ${account} in us-east-1. Current shard count for the account: 2. Limit: 10. ` +
        'Number of additional shards that would have resulted from this request: 9. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.',
    });
    await assert.rejects(
      client.send(
        new CreateStreamCommand({
          StreamName: 'od',
          ShardCount: 2,
          StreamModeDetails: { StreamMode: 'ON_DEMAND' },
        }),
      ),
      invalid('ShardCount is not expected when StreamMode=ON_DEMAND'),
    );
  });

  test('DeleteStream, DescribeStream, DescribeStreamSummary on missing streams', async () => {
    await assert.rejects(client.send(new DeleteStreamCommand({ StreamName: 'nope' })), notFound('nope'));
    await assert.rejects(client.send(new DescribeStreamCommand({ StreamName: 'nope' })), notFound('nope'));
    await assert.rejects(
      client.send(new DescribeStreamSummaryCommand({ StreamName: 'nope' })),
      notFound('nope'),
    );
    await assert.rejects(
      client.send(
        new DescribeStreamSummaryCommand({ StreamARN: 'arn:aws:kinesis:eu-west-1:123456789012:stream/errs' }),
      ),
      { name: 'ResourceNotFoundException', message: 'Stream errs under account 123456789012 not found.' },
    );
    await assert.rejects(
      client.send(new DescribeStreamCommand({ StreamName: 'errs', Limit: 0 })),
      validation(
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
      ),
    );
    await assert.rejects(
      client.send(new DescribeStreamCommand({})),
      invalid('Either StreamName or StreamARN should be provided.'),
    );
  });

  test('ListStreams and ListShards', async () => {
    await assert.rejects(
      client.send(new ListStreamsCommand({ Limit: 0 })),
      validation(
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
      ),
    );
    await assert.rejects(
      client.send(new ListStreamsCommand({ NextToken: 'garbage' })),
      invalid('NextToken is improperly formatted.'),
    );
    await assert.rejects(
      client.send(new ListShardsCommand({})),
      invalid('Either NextToken or StreamName should be provided.'),
    );
    await assert.rejects(
      client.send(new ListShardsCommand({ StreamName: 'errs', NextToken: 'abc' })),
      invalid('NextToken and StreamName cannot be provided together.'),
    );
    await assert.rejects(
      client.send(new ListShardsCommand({ NextToken: 'abc' })),
      invalid('NextToken is improperly formatted.'),
    );
    await assert.rejects(
      client.send(new ListShardsCommand({ StreamName: 'errs', ShardFilter: { Type: 'AFTER_SHARD_ID' } })),
      invalid('ShardId must be supplied in a ShardFilter with a Type of AFTER_SHARD_ID'),
    );
    await assert.rejects(
      client.send(new ListShardsCommand({ StreamName: 'errs', ShardFilter: { Type: 'AT_TIMESTAMP' } })),
      invalid('Timestamp must be supplied in a ShardFilter with a Type of FROM_TIMESTAMP or AT_TIMESTAMP'),
    );
    await assert.rejects(
      client.send(new ListShardsCommand({ StreamName: 'errs', MaxResults: 10001 })),
      validation(
        "1 validation error detected: Value '10001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10000",
      ),
    );
    await assert.rejects(client.send(new ListShardsCommand({ StreamName: 'nope' })), notFound('nope'));
    const filter = await rawCall(server.port, 'ListShards', {
      StreamName: 'errs',
      ShardFilter: { Type: 'SOMETIMES' },
    });
    assert.equal(filter.body.__type, 'ValidationException');
    assert.match(
      String(filter.body.message),
      /at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: \[/,
    );
  });

  test('PutRecord', async () => {
    const put = (input: Record<string, unknown>) =>
      client.send(
        new PutRecordCommand({ StreamName: 'errs', PartitionKey: 'a', Data: Buffer.from('d'), ...input }),
      );
    await assert.rejects(put({ StreamName: 'nope' }), notFound('nope'));
    const tooHigh = (1n << 128n).toString();
    await assert.rejects(
      put({ ExplicitHashKey: tooHigh }),
      invalid(
        `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${tooHigh}`,
      ),
    );
    await assert.rejects(
      put({ ExplicitHashKey: '01' }),
      validation(
        "1 validation error detected: Value '01' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
      ),
    );
    await assert.rejects(
      put({ PartitionKey: '' }),
      validation(
        "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
      ),
    );
    await assert.rejects(
      put({ Data: Buffer.alloc(1024 * 1024 + 1) }),
      validation(
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576",
      ),
    );
    const ok = await put({ Data: Buffer.alloc(1024 * 1024) });
    assert.ok(ok.SequenceNumber, 'a record of exactly 1 MiB is accepted');
    await assert.rejects(
      put({ SequenceNumberForOrdering: '12345' }),
      invalid(
        `ExclusiveMinimumSequenceNumber 12345 used in PutRecord on stream errs under account ${account} is invalid.`,
      ),
    );
  });

  test('PutRecords', async () => {
    const records = (n: number, size = 1) =>
      Array.from({ length: n }, (_, i) => ({ PartitionKey: `k${i}`, Data: Buffer.alloc(size) }));
    await assert.rejects(
      client.send(new PutRecordsCommand({ StreamName: 'errs', Records: [] })),
      validation(
        "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1",
      ),
    );
    await assert.rejects(
      client.send(new PutRecordsCommand({ StreamName: 'errs', Records: records(501) })),
      (error: Error) => {
        assert.equal(error.name, 'ValidationException');
        assert.match(
          error.message,
          /at 'records' failed to satisfy constraint: Member must have length less than or equal to 500$/,
        );
        return true;
      },
    );
    await assert.rejects(
      client.send(new PutRecordsCommand({ StreamName: 'errs', Records: records(6, 1024 * 1024 - 10) })),
      invalid('Records size exceeds 5 MB limit'),
    );
    await assert.rejects(
      client.send(
        new PutRecordsCommand({
          StreamName: 'errs',
          Records: [{ PartitionKey: 'a', Data: Buffer.from('x'), ExplicitHashKey: (1n << 128n).toString() }],
        }),
      ),
      invalid(/^Invalid ExplicitHashKey\./),
    );
    await assert.rejects(
      client.send(new PutRecordsCommand({ StreamName: 'nope', Records: records(1) })),
      notFound('nope'),
    );
    await assert.rejects(
      client.send(
        new PutRecordsCommand({
          StreamName: 'errs',
          Records: [{ PartitionKey: 'a', Data: Buffer.alloc(1048577) }],
        }),
      ),
      validation(
        "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'records.1.member.data' failed to satisfy constraint: Member must have length less than or equal to 1048576",
      ),
    );
  });

  test('GetShardIterator', async () => {
    const get = (input: Record<string, unknown>) =>
      client.send(
        new GetShardIteratorCommand({
          StreamName: 'errs',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'TRIM_HORIZON',
          ...input,
        } as never),
      );
    await assert.rejects(get({ ShardId: 'ABKLFD8' }), {
      name: 'ResourceNotFoundException',
      message: `Could not find shard ABKLFD8 in stream errs under account ${account}.`,
    });
    await assert.rejects(get({ ShardId: 'shardId-5' }), {
      name: 'ResourceNotFoundException',
      message: `Shard shardId-000000000005 in stream errs under account ${account} does not exist`,
    });
    await assert.rejects(get({ StreamName: 'nope' }), {
      name: 'ResourceNotFoundException',
      message: `Shard shardId-000000000000 in stream nope under account ${account} does not exist`,
    });
    const help =
      'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber.';
    await assert.rejects(
      get({ ShardIteratorType: 'AT_SEQUENCE_NUMBER' }),
      invalid(`${help} Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.`),
    );
    await assert.rejects(
      get({ ShardIteratorType: 'LATEST', StartingSequenceNumber: seqShard0 }),
      invalid(`${help} Request specified LATEST and also a StartingSequenceNumber.`),
    );
    await assert.rejects(
      get({ ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: seqShard1 }),
      invalid(
        'Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in a call to a shard with shardId-000000000000',
      ),
    );
    await assert.rejects(
      get({ ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: '5' }),
      invalid(
        `StartingSequenceNumber 5 used in GetShardIterator on shard shardId-000000000000 in stream errs under account ${account} is invalid.`,
      ),
    );
    await assert.rejects(
      get({ ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: 'abc' }),
      validation(
        "1 validation error detected: Value 'abc' at 'startingSequenceNumber' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
      ),
    );
    await assert.rejects(
      get({ ShardIteratorType: 'AT_TIMESTAMP' }),
      invalid(
        'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.',
      ),
    );
    await assert.rejects(
      get({ ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(Date.now() + 3_600_000) }),
      invalid(
        /^The timestampInMillis parameter cannot be greater than the currentTimestampInMillis\. timestampInMillis: \d+, currentTimestampInMillis: \d+$/,
      ),
    );
    const badType = await rawCall(server.port, 'GetShardIterator', {
      StreamName: 'errs',
      ShardId: 'shardId-000000000000',
      ShardIteratorType: 'SOMEWHERE',
    });
    assert.deepEqual(badType.body, {
      __type: 'ValidationException',
      message:
        "1 validation error detected: Value 'SOMEWHERE' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
    });
    const lenient = await get({ ShardId: '1' });
    assert.ok(lenient.ShardIterator, 'a bare shard number names the shard');
  });

  test('GetRecords', async () => {
    await assert.rejects(
      client.send(new GetRecordsCommand({ ShardIterator: 'garbage' })),
      invalid('Invalid ShardIterator.'),
    );
    const { ShardIterator = '' } = await client.send(
      new GetShardIteratorCommand({
        StreamName: 'errs',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const tampered = Buffer.from(ShardIterator, 'base64');
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    await assert.rejects(
      client.send(new GetRecordsCommand({ ShardIterator: tampered.toString('base64') })),
      invalid('Invalid ShardIterator.'),
    );
    await assert.rejects(
      client.send(new GetRecordsCommand({ ShardIterator, Limit: 0 })),
      validation(
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
      ),
    );
    const quoted = await client.send(new GetRecordsCommand({ ShardIterator: `"${ShardIterator}"` }));
    assert.ok((quoted.Records?.length ?? 0) >= 1, 'an iterator in double quotes is accepted');
    await sleep(400); // this server's iterators live 300 ms
    await assert.rejects(client.send(new GetRecordsCommand({ ShardIterator })), {
      name: 'ExpiredIteratorException',
      message:
        /^Iterator expired\. The iterator was created at time \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} while right now it is \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} which is further in the future than the tolerated delay of 300 milliseconds\.$/,
    });
  });

  test('an iterator of a deleted stream names the shard that no longer exists', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'gone', ShardCount: 1 }));
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: 'gone',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'LATEST',
      }),
    );
    await client.send(new DeleteStreamCommand({ StreamName: 'gone' }));
    await assert.rejects(client.send(new GetRecordsCommand({ ShardIterator })), {
      name: 'ResourceNotFoundException',
      message: `Shard shardId-000000000000 in stream gone under account ${account} does not exist`,
    });
  });
});

describe('transient stream states are observable', () => {
  let server: Sluice;
  let client: KinesisClient;
  before(async () => {
    server = await startTestServer({ engine: { createStreamMs: 300, deleteStreamMs: 300 } });
    client = kinesisClient(server.port);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('CREATING, then ACTIVE; DELETING, then gone', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'slow', ShardCount: 1 }));
    const creating = await client.send(new DescribeStreamCommand({ StreamName: 'slow' }));
    assert.equal(creating.StreamDescription?.StreamStatus, 'CREATING');
    assert.deepEqual(creating.StreamDescription?.Shards, []);
    await assert.rejects(
      client.send(new PutRecordCommand({ StreamName: 'slow', PartitionKey: 'a', Data: Buffer.from('x') })),
      notFound('slow'),
    );
    await assert.rejects(
      client.send(
        new GetShardIteratorCommand({
          StreamName: 'slow',
          ShardId: 'shardId-000000000000',
          ShardIteratorType: 'LATEST',
        }),
      ),
      {
        name: 'ResourceNotFoundException',
        message: `Shard shardId-000000000000 in stream slow under account ${account} does not exist`,
      },
    );
    await sleep(450);
    const active = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'slow' }));
    assert.equal(active.StreamDescriptionSummary?.StreamStatus, 'ACTIVE');
    await client.send(new DeleteStreamCommand({ StreamName: 'slow' }));
    const deleting = await client.send(new ListStreamsCommand({}));
    assert.equal(deleting.StreamSummaries?.[0]?.StreamStatus, 'DELETING');
    await sleep(450);
    await assert.rejects(client.send(new DescribeStreamCommand({ StreamName: 'slow' })), notFound('slow'));
  });

  test('a stream can be deleted while it is being created', async () => {
    await client.send(new CreateStreamCommand({ StreamName: 'brief', ShardCount: 1 }));
    await client.send(new DeleteStreamCommand({ StreamName: 'brief' }));
    const d = await client.send(new DescribeStreamCommand({ StreamName: 'brief' }));
    assert.equal(d.StreamDescription?.StreamStatus, 'DELETING');
    await sleep(450);
    await assert.rejects(client.send(new DescribeStreamCommand({ StreamName: 'brief' })), notFound('brief'));
  });
});
