import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DecodeResult, decodeInput, knownOperations, type Wire } from '../src/api/validation.js';

const STREAM_NAME_PATTERN = 'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+';
const NOT_NULL = 'Member must not be null';

function decodeOk(operation: string, body: unknown, wire: Wire = 'json'): Record<string, unknown> {
  const result = decodeInput(operation, body, wire);
  if (!result.ok) assert.fail(`expected success, got ${result.error.name}: ${result.error.message}`);
  return result.input;
}

function errorOf(result: DecodeResult): { name: string; message: string } {
  if (result.ok) assert.fail('expected a failure');
  return result.error;
}

function assertSerialization(operation: string, body: unknown, message: string, wire: Wire = 'json'): void {
  assert.deepEqual(errorOf(decodeInput(operation, body, wire)), { name: 'SerializationException', message });
}

function assertValidation(operation: string, body: unknown, lines: string[]): void {
  const noun = lines.length === 1 ? 'error' : 'errors';
  const message = `${lines.length} validation ${noun} detected: ${lines.join('; ')}`;
  assert.deepEqual(errorOf(decodeInput(operation, body, 'json')), { name: 'ValidationException', message });
}

function violation(value: string | null, path: string, constraint: string): string {
  const shown = value === null ? 'null' : `'${value}'`;
  return `Value ${shown} at '${path}' failed to satisfy constraint: ${constraint}`;
}

/** Puts `value` at a dotted path where a numeric segment means "inside a one-element list". */
function bodyWith(path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.');
  const key = head ?? '';
  if (rest.length === 0) return { [key]: value };
  const [next, ...after] = rest;
  if (next !== undefined && /^\d+$/.test(next)) {
    return { [key]: [after.length === 0 ? value : bodyWith(after.join('.'), value)] };
  }
  return { [key]: bodyWith(rest.join('.'), value) };
}

const TYPE_CASES: Record<string, Array<[unknown, string]>> = {
  String: [
    [true, 'class java.lang.Boolean can not be converted to an String'],
    [23, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String'],
    [
      34.56,
      'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String',
    ],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  Integer: [
    ['23', 'class java.lang.String can not be converted to an Integer'],
    [true, 'class java.lang.Boolean can not be converted to an Integer'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  Boolean: [
    ['23', "'23' can not be converted to an Boolean"],
    ['hello', "'HELLO' can not be converted to an Boolean"],
    [23, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an Boolean'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  Blob: [
    [true, 'class java.lang.Boolean can not be converted to a Blob'],
    [23, 'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
    [
      '23456',
      "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 5",
    ],
    ['=+/=', "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"],
    ['ab-_', "'ab-_' can not be converted to a Blob: Invalid Base64 character: '-'"],
    ['+/+=', "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"],
  ],
  Timestamp: [
    [true, 'class java.lang.Boolean can not be converted to milliseconds since epoch'],
    ['1459799926', 'class java.lang.String can not be converted to milliseconds since epoch'],
    [[], 'Start of list found where not expected'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  List: [
    ['23', 'Expected list or null'],
    [true, 'Expected list or null'],
    [23, 'Expected list or null'],
    [{}, 'Start of structure or map found where not expected.'],
  ],
  Map: [
    ['23', 'Expected map or null'],
    [false, 'Expected map or null'],
    [34.56, 'Expected map or null'],
    [[], 'Start of list found where not expected'],
  ],
  Structure: [
    ['23', 'Expected null'],
    [true, 'Expected null'],
    [23, 'Expected null'],
    [[], 'Start of list found where not expected'],
  ],
};

const TYPED_MEMBERS: Array<[string, string, keyof typeof TYPE_CASES]> = [
  ['CreateStream', 'StreamName', 'String'],
  ['CreateStream', 'ShardCount', 'Integer'],
  ['CreateStream', 'Tags', 'Map'],
  ['CreateStream', 'Tags.a', 'String'],
  ['CreateStream', 'StreamModeDetails', 'Structure'],
  ['CreateStream', 'StreamModeDetails.StreamMode', 'String'],
  ['DeleteStream', 'EnforceConsumerDeletion', 'Boolean'],
  ['PutRecord', 'Data', 'Blob'],
  ['PutRecord', 'PartitionKey', 'String'],
  ['PutRecords', 'Records', 'List'],
  ['PutRecords', 'Records.0', 'Structure'],
  ['PutRecords', 'Records.0.Data', 'Blob'],
  ['PutRecords', 'Records.0.PartitionKey', 'String'],
  ['GetShardIterator', 'Timestamp', 'Timestamp'],
  ['GetRecords', 'Limit', 'Integer'],
  ['ListShards', 'ShardFilter', 'Structure'],
  ['ListShards', 'ShardFilter.Timestamp', 'Timestamp'],
  ['ListShards', 'StreamCreationTimestamp', 'Timestamp'],
  ['RemoveTagsFromStream', 'TagKeys', 'List'],
  ['RemoveTagsFromStream', 'TagKeys.0', 'String'],
];

for (const [operation, path, type] of TYPED_MEMBERS) {
  test(`${operation}: SerializationException when ${path} is not a ${type}`, () => {
    for (const [value, message] of TYPE_CASES[type] ?? []) {
      assertSerialization(operation, bodyWith(path, value), message);
    }
  });
}

test('non-object bodies are SerializationExceptions', () => {
  assertSerialization('ListStreams', [], 'Start of list found where not expected');
  assertSerialization('ListStreams', 'abc', 'Expected null');
  assertSerialization('ListStreams', 12, 'Expected null');
  assertSerialization('ListStreams', null, '');
});

test('the first type error in document order wins over later ones and over validation', () => {
  assertSerialization(
    'PutRecord',
    { StreamName: '', PartitionKey: 5, Data: true },
    'class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String',
  );
  assertSerialization(
    'PutRecord',
    { Data: true, PartitionKey: 5 },
    'class java.lang.Boolean can not be converted to a Blob',
  );
});

test('unknown members are dropped without being type checked', () => {
  assert.deepEqual(decodeOk('ListStreams', { Limit: 5, Bogus: { deep: [1] }, limit: 'x' }), { Limit: 5 });
});

test('CreateStream: required members and nested structure members', () => {
  assertValidation('CreateStream', {}, [violation(null, 'streamName', NOT_NULL)]);
  assertValidation('CreateStream', { StreamName: 'a', StreamModeDetails: {} }, [
    violation(null, 'streamModeDetails.streamMode', NOT_NULL),
  ]);
  assertValidation('CreateStream', { StreamName: 'a', StreamModeDetails: { StreamMode: 'FAST' } }, [
    violation(
      'FAST',
      'streamModeDetails.streamMode',
      'Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]',
    ),
  ]);
});

test('CreateStream: JSON null counts as missing', () => {
  assertValidation('CreateStream', { StreamName: null, ShardCount: null }, [
    violation(null, 'streamName', NOT_NULL),
  ]);
});

test('CreateStream: pattern is reported before length, members in model order', () => {
  assertValidation('CreateStream', { StreamName: '', ShardCount: 0 }, [
    violation('', 'streamName', STREAM_NAME_PATTERN),
    violation('', 'streamName', 'Member must have length greater than or equal to 1'),
    violation('0', 'shardCount', 'Member must have value greater than or equal to 1'),
  ]);
  const bad = '!'.repeat(129);
  assertValidation('CreateStream', { StreamName: bad }, [
    violation(bad, 'streamName', STREAM_NAME_PATTERN),
    violation(bad, 'streamName', 'Member must have length less than or equal to 128'),
  ]);
});

test('CreateStream: long StreamName and integer members truncate and saturate', () => {
  const name = 'a'.repeat(129);
  assertValidation('CreateStream', { StreamName: name, ShardCount: 100000000000 }, [
    violation(name, 'streamName', 'Member must have length less than or equal to 128'),
  ]);
  assert.equal(decodeOk('CreateStream', { StreamName: 'a', ShardCount: 2.9 }).ShardCount, 2);
  assert.equal(decodeOk('CreateStream', { StreamName: 'a', ShardCount: 2 ** 40 }).ShardCount, 2147483647);
  assertValidation('CreateStream', { StreamName: 'a', ShardCount: 0.5 }, [
    violation('0', 'shardCount', 'Member must have value greater than or equal to 1'),
  ]);
  assertValidation('CreateStream', { StreamName: 'a', MaxRecordSizeInKiB: 20000 }, [
    violation('20000', 'maxRecordSizeInKiB', 'Member must have value less than or equal to 10240'),
  ]);
});

test('PutRecord: missing, empty and oversized members', () => {
  assertValidation('PutRecord', {}, [
    violation(null, 'data', NOT_NULL),
    violation(null, 'partitionKey', NOT_NULL),
  ]);
  assertValidation('PutRecord', { StreamName: '', PartitionKey: '', Data: '', ExplicitHashKey: '' }, [
    violation('', 'streamName', STREAM_NAME_PATTERN),
    violation('', 'streamName', 'Member must have length greater than or equal to 1'),
    violation('', 'partitionKey', 'Member must have length greater than or equal to 1'),
    violation('', 'explicitHashKey', 'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})'),
  ]);
  const key = 'k'.repeat(257);
  const data = Buffer.alloc(10 * 1024 * 1024 + 1).toString('base64');
  assertValidation('PutRecord', { PartitionKey: key, Data: data, SequenceNumberForOrdering: 'x' }, [
    violation(
      'java.nio.HeapByteBuffer[pos=0 lim=10485761 cap=10485761]',
      'data',
      'Member must have length less than or equal to 10485760',
    ),
    violation(key, 'partitionKey', 'Member must have length less than or equal to 256'),
    violation(
      'x',
      'sequenceNumberForOrdering',
      'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})',
    ),
  ]);
});

test('PutRecord: StreamARN is checked against the model pattern', () => {
  const arn = 'arn:aws:kinesis:us-east-1:123:stream/s';
  assertValidation('PutRecord', { StreamARN: arn, PartitionKey: 'a', Data: '' }, [
    violation(
      arn,
      'streamARN',
      'Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+',
    ),
  ]);
  const good = 'arn:aws:kinesis:us-east-1:123456789012:stream/s';
  assert.equal(decodeOk('PutRecord', { StreamARN: good, PartitionKey: 'a', Data: '' }).StreamARN, good);
});

test('PutRecord: happy path decodes base64 to a Buffer', () => {
  const input = decodeOk('PutRecord', { StreamName: 's', PartitionKey: 'pk', Data: 'aGVsbG8=', Extra: 1 });
  assert.deepEqual(input, { StreamName: 's', PartitionKey: 'pk', Data: Buffer.from('hello') });
  assert.ok(Buffer.isBuffer(input.Data));
  assert.deepEqual(decodeOk('PutRecord', { PartitionKey: 'pk', Data: '' }).Data, Buffer.alloc(0));
});

test('PutRecords: nested record paths are 1-based with .member', () => {
  assertValidation('PutRecords', { StreamName: '', Records: [] }, [
    violation('[]', 'records', 'Member must have length greater than or equal to 1'),
    violation('', 'streamName', STREAM_NAME_PATTERN),
    violation('', 'streamName', 'Member must have length greater than or equal to 1'),
  ]);
  assertValidation(
    'PutRecords',
    {
      Records: [
        { PartitionKey: 'a', Data: '' },
        { Data: '', ExplicitHashKey: 'x' },
      ],
    },
    [
      violation(
        'x',
        'records.2.member.explicitHashKey',
        'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})',
      ),
      violation(null, 'records.2.member.partitionKey', NOT_NULL),
    ],
  );
  assertValidation('PutRecords', { Records: [null] }, [violation(null, 'records.1.member', NOT_NULL)]);
});

test('PutRecords: at most 10 violations are reported, structures print as Java objects', () => {
  const records = Array.from({ length: 501 }, () => ({ PartitionKey: '', Data: '' }));
  const entry = 'com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@2';
  const lines = [
    violation(
      `[${Array(501).fill(entry).join(', ')}]`,
      'records',
      'Member must have length less than or equal to 500',
    ),
  ];
  for (let i = 1; i <= 9; i++) {
    lines.push(
      violation('', `records.${i}.member.partitionKey`, 'Member must have length greater than or equal to 1'),
    );
  }
  assertValidation('PutRecords', { StreamName: '', Records: records }, lines);
});

test('PutRecords: happy path', () => {
  const input = decodeOk('PutRecords', { Records: [{ PartitionKey: 'a', Data: 'AAE=' }], StreamName: 's' });
  assert.deepEqual(input, { Records: [{ PartitionKey: 'a', Data: Buffer.from([0, 1]) }], StreamName: 's' });
});

test('GetShardIterator: enum and required members', () => {
  assertValidation('GetShardIterator', {}, [
    violation(null, 'shardId', NOT_NULL),
    violation(null, 'shardIteratorType', NOT_NULL),
  ]);
  assertValidation(
    'GetShardIterator',
    { ShardId: 'shardId-0', ShardIteratorType: 'OLDEST', StartingSequenceNumber: '' },
    [
      violation(
        'OLDEST',
        'shardIteratorType',
        'Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]',
      ),
      violation(
        '',
        'startingSequenceNumber',
        'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})',
      ),
    ],
  );
});

test('GetShardIterator: JSON timestamps are epoch seconds', () => {
  const input = decodeOk('GetShardIterator', {
    StreamName: 's',
    ShardId: 'shardId-0',
    ShardIteratorType: 'AT_TIMESTAMP',
    Timestamp: 1459799926.48,
  });
  assert.ok(input.Timestamp instanceof Date);
  assert.equal(input.Timestamp.getTime(), 1459799926480);
});

test('ListShards: ShardFilter is validated as a nested structure', () => {
  assertValidation('ListShards', { ShardFilter: {} }, [violation(null, 'shardFilter.type', NOT_NULL)]);
  assertValidation('ListShards', { ShardFilter: { Type: 'AFTER_SHARD_ID', ShardId: '' }, MaxResults: 0 }, [
    violation('0', 'maxResults', 'Member must have value greater than or equal to 1'),
    violation('', 'shardFilter.shardId', STREAM_NAME_PATTERN),
    violation('', 'shardFilter.shardId', 'Member must have length greater than or equal to 1'),
  ]);
  assertValidation('ListShards', { ShardFilter: { Type: 'LATEST' } }, [
    violation(
      'LATEST',
      'shardFilter.type',
      'Member must satisfy enum value set: [FROM_TIMESTAMP, AT_TIMESTAMP, AT_TRIM_HORIZON, AT_LATEST, FROM_TRIM_HORIZON, AFTER_SHARD_ID]',
    ),
  ]);
  const input = decodeOk('ListShards', {
    StreamName: 's',
    ShardFilter: { Type: 'AT_TIMESTAMP', Timestamp: 1700000000 },
  });
  assert.deepEqual(input.ShardFilter, { Type: 'AT_TIMESTAMP', Timestamp: new Date(1700000000000) });
});

test('GetRecords: Limit range and ShardIterator length', () => {
  assertValidation('GetRecords', {}, [violation(null, 'shardIterator', NOT_NULL)]);
  assertValidation('GetRecords', { ShardIterator: '', Limit: 0 }, [
    violation('', 'shardIterator', 'Member must have length greater than or equal to 1'),
    violation('0', 'limit', 'Member must have value greater than or equal to 1'),
  ]);
  const iterator = 'i'.repeat(513);
  assertValidation('GetRecords', { ShardIterator: iterator, Limit: 100000 }, [
    violation(iterator, 'shardIterator', 'Member must have length less than or equal to 512'),
    violation('100000', 'limit', 'Member must have value less than or equal to 10000'),
  ]);
  assert.deepEqual(decodeOk('GetRecords', { ShardIterator: 'abc', Limit: 10000 }), {
    ShardIterator: 'abc',
    Limit: 10000,
  });
});

test('AddTagsToStream: map size, key and value constraints', () => {
  assertValidation('AddTagsToStream', { StreamName: 's', Tags: {} }, [
    violation('{}', 'tags', 'Member must have length greater than or equal to 1'),
  ]);
  const longKey = 'k'.repeat(129);
  assertValidation('AddTagsToStream', { Tags: { a: '1', [longKey]: '3' } }, [
    violation(
      `{a=1, ${longKey}=3}`,
      'tags',
      'Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]',
    ),
  ]);
  const longValue = 'v'.repeat(257);
  assertValidation('AddTagsToStream', { Tags: { a: '1', c: longValue } }, [
    violation(
      `{a=1, c=${longValue}}`,
      'tags',
      'Map value must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0]',
    ),
  ]);
});

test('AddTagsToStream: "__proto__" stays an ordinary tag key', () => {
  const input = decodeOk('AddTagsToStream', JSON.parse('{"StreamName":"s","Tags":{"__proto__":"x"}}'));
  const tags = input.Tags as Record<string, unknown>;
  assert.deepEqual(Object.keys(tags), ['__proto__']);
  assert.equal(Object.getPrototypeOf(tags), Object.prototype);
});

test('RemoveTagsFromStream: scalar list members get one summary violation', () => {
  const long = 'k'.repeat(129);
  assertValidation('RemoveTagsFromStream', { StreamName: 's', TagKeys: ['a', long, 'b'] }, [
    violation(
      `[a, ${long}, b]`,
      'tagKeys',
      'Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]',
    ),
  ]);
  assertValidation('RemoveTagsFromStream', { TagKeys: [] }, [
    violation('[]', 'tagKeys', 'Member must have length greater than or equal to 1'),
  ]);
});

test('EnableEnhancedMonitoring: enum list members', () => {
  assertValidation('EnableEnhancedMonitoring', { StreamName: 's', ShardLevelMetrics: ['ALL', 'Bytes'] }, [
    violation(
      '[ALL, Bytes]',
      'shardLevelMetrics',
      'Member must satisfy constraint: [Member must satisfy enum value set: [ALL, IteratorAgeMilliseconds, ' +
        'IncomingBytes, WriteProvisionedThroughputExceeded, OutgoingRecords, ReadProvisionedThroughputExceeded, ' +
        'IncomingRecords, OutgoingBytes]]',
    ),
  ]);
});

test('DeleteStream: boolean words are accepted', () => {
  assert.equal(
    decodeOk('DeleteStream', { StreamName: 's', EnforceConsumerDeletion: true }).EnforceConsumerDeletion,
    true,
  );
  assert.equal(
    decodeOk('DeleteStream', { StreamName: 's', EnforceConsumerDeletion: 'false' }).EnforceConsumerDeletion,
    false,
  );
});

test('CBOR: byte strings, strings and timestamps', () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const input = decodeOk('PutRecord', { PartitionKey: 'a', Data: bytes }, 'cbor');
  assert.ok(Buffer.isBuffer(input.Data));
  assert.deepEqual(input.Data, Buffer.from([1, 2, 3]));
  assert.deepEqual(
    decodeOk('PutRecord', { PartitionKey: 'a', Data: 'AQID' }, 'cbor').Data,
    Buffer.from([1, 2, 3]),
  );
  assertSerialization(
    'PutRecord',
    { PartitionKey: 'a', Data: 'AQI' },
    "'AQI' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3",
    'cbor',
  );

  const base = { ShardId: 'shardId-0', ShardIteratorType: 'AT_TIMESTAMP' };
  const at = (timestamp: unknown): unknown =>
    decodeOk('GetShardIterator', { ...base, Timestamp: timestamp }, 'cbor').Timestamp;
  const when = new Date(1459799926480);
  assert.deepEqual(at(when), when);
  assert.deepEqual(at(1459799926.48), when);
  assert.deepEqual(at(1459799926480), when);
  assert.deepEqual(at(1459799926480n), when);
  assert.deepEqual(at(new Date(1459799926480 * 1000)), when);
  assert.deepEqual(decodeOk('GetRecords', { ShardIterator: 'x', Limit: 25n }, 'cbor').Limit, 25);
});

test('knownOperations lists every model operation', () => {
  const operations = knownOperations();
  for (const name of ['CreateStream', 'PutRecords', 'SubscribeToShard', 'ListShards', 'UpdateStreamMode']) {
    assert.ok(operations.includes(name), name);
  }
  assert.throws(() => decodeInput('NoSuchOperation', {}, 'json'), RangeError);
});

test('operations without required members accept an empty body', () => {
  for (const operation of ['ListStreams', 'DescribeLimits', 'DescribeStreamSummary', 'ListShards']) {
    assert.deepEqual(decodeOk(operation, {}), {});
  }
});
