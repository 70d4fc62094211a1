import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DescribeAccountSettingsCommand,
  DescribeLimitsCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  DisableEnhancedMonitoringCommand,
  EnableEnhancedMonitoringCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  type MetricsName,
  PutRecordCommand,
  PutRecordsCommand,
  StartStreamEncryptionCommand,
  StopStreamEncryptionCommand,
  UpdateAccountSettingsCommand,
  UpdateMaxRecordSizeCommand,
  UpdateStreamWarmThroughputCommand,
} from '@aws-sdk/client-kinesis';
import Database from 'better-sqlite3';
import type { Sluice } from '../src/app.js';
import { commitmentSetting } from '../src/engine/settings.js';
import { kinesisClient, rawCall, sleep, startTestServer } from './helpers.js';

const account = '000000000000';
const region = 'us-east-1';
const arnOf = (name: string) => `arn:aws:kinesis:${region}:${account}:stream/${name}`;
const keyUuid = '12345678-1234-1234-1234-123456789012';
const keyArn = `arn:aws:kms:${region}:123456789012:key/${keyUuid}`;
const notFound = (name: string) => ({
  name: 'ResourceNotFoundException',
  message: `Stream ${name} under account ${account} not found.`,
});
const notActive = (name: string, state: string) => ({
  name: 'ResourceInUseException',
  message: `Stream ${name} under account ${account} not ACTIVE, instead in state ${state}`,
});
const invalid = (message: string) => ({ name: 'InvalidArgumentException', message });
const validation = (message: string) => ({ name: 'ValidationException', message });
const kmsNotFound = (message: string) => ({ name: 'KMSNotFoundException', message });
const tooLarge = (size: number, limit: number) =>
  validation(
    `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${size} cap=${size}]' at 'data' failed to satisfy constraint: Member must have length less than or equal to ${limit}`,
  );

async function createActive(
  client: KinesisClient,
  name: string,
  mode: 'PROVISIONED' | 'ON_DEMAND' = 'PROVISIONED',
): Promise<void> {
  await client.send(
    new CreateStreamCommand(
      mode === 'ON_DEMAND'
        ? { StreamName: name, StreamModeDetails: { StreamMode: 'ON_DEMAND' } }
        : { StreamName: name, ShardCount: 1 },
    ),
  );
  await waitActive(client, name);
}

/** Poll until the stream is ACTIVE (bounded). */
async function waitActive(client: KinesisClient, name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(20);
  }
  assert.fail(`stream ${name} did not become ACTIVE`);
}

async function summaryOf(client: KinesisClient, name: string) {
  const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
  assert.ok(out.StreamDescriptionSummary);
  return out.StreamDescriptionSummary;
}

/** Every record of a stream, from the trim horizon of each shard. */
async function readAll(client: KinesisClient, name: string) {
  const shards = await client.send(new ListShardsCommand({ StreamName: name }));
  const records = [];
  for (const shard of shards.Shards ?? []) {
    const it = await client.send(
      new GetShardIteratorCommand({
        StreamName: name,
        ShardId: shard.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const got = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
    records.push(...(got.Records ?? []));
  }
  return records;
}

describe('stream encryption', () => {
  let server: Sluice;
  let client: KinesisClient;

  before(async () => {
    server = await startTestServer({ engine: { updateStreamMs: 0 } });
    client = kinesisClient(server.port);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('round trip: records after StartStreamEncryption are KMS, records before stay as they were', async () => {
    await createActive(client, 'enc');
    const before = await client.send(
      new PutRecordCommand({ StreamName: 'enc', PartitionKey: 'p', Data: Buffer.from('plain before') }),
    );
    assert.equal(before.EncryptionType, undefined);

    await client.send(
      new StartStreamEncryptionCommand({ StreamName: 'enc', EncryptionType: 'KMS', KeyId: keyUuid }),
    );
    const described = await client.send(new DescribeStreamCommand({ StreamName: 'enc' }));
    assert.equal(described.StreamDescription?.EncryptionType, 'KMS');
    assert.equal(described.StreamDescription?.KeyId, keyUuid);
    const summary = await summaryOf(client, 'enc');
    assert.equal(summary.EncryptionType, 'KMS');
    assert.equal(summary.KeyId, keyUuid);

    const payload = Buffer.from([0, 1, 2, 250, 255, ...Buffer.from('secret after')]);
    const put = await client.send(
      new PutRecordCommand({ StreamName: 'enc', PartitionKey: 'p', Data: payload }),
    );
    assert.equal(put.EncryptionType, 'KMS');
    const batch = await client.send(
      new PutRecordsCommand({
        StreamName: 'enc',
        Records: [{ PartitionKey: 'q', Data: Buffer.from('batch after') }],
      }),
    );
    assert.equal(batch.EncryptionType, 'KMS');

    const records = await readAll(client, 'enc');
    assert.deepEqual(
      records.map((r) => [Buffer.from(r.Data ?? []).toString('latin1'), r.EncryptionType]),
      [
        ['plain before', undefined],
        [payload.toString('latin1'), 'KMS'],
        ['batch after', 'KMS'],
      ],
    );

    // Stop: new records are plain again, encrypted ones still read back decrypted.
    await client.send(
      new StopStreamEncryptionCommand({ StreamName: 'enc', EncryptionType: 'KMS', KeyId: keyUuid }),
    );
    const stopped = await summaryOf(client, 'enc');
    assert.equal(stopped.EncryptionType, 'NONE');
    assert.equal(stopped.KeyId, undefined);
    const plain = await client.send(
      new PutRecordCommand({ StreamName: 'enc', PartitionKey: 'p', Data: Buffer.from('plain after') }),
    );
    assert.equal(plain.EncryptionType, undefined);
    const all = await readAll(client, 'enc');
    assert.deepEqual(
      all.map((r) => [Buffer.from(r.Data ?? []).toString('latin1'), r.EncryptionType]),
      [
        ['plain before', undefined],
        [payload.toString('latin1'), 'KMS'],
        ['batch after', 'KMS'],
        ['plain after', undefined],
      ],
    );
  });

  test('every KeyId form the service accepts, and a change of key', async () => {
    await createActive(client, 'forms');
    const forms = [
      keyUuid,
      keyArn,
      'alias/MyAliasName',
      `arn:aws:kms:${region}:123456789012:alias/MyAliasName`,
      'alias/aws/kinesis',
      'mrk-1234abcd12ab34cd56ef1234567890ab',
    ];
    for (const [i, keyId] of forms.entries()) {
      // Start again with another key updates the key (StartStreamEncryption "enables or updates").
      await client.send(
        new StartStreamEncryptionCommand({ StreamName: 'forms', EncryptionType: 'KMS', KeyId: keyId }),
      );
      assert.equal((await summaryOf(client, 'forms')).KeyId, keyId);
      await client.send(
        new PutRecordCommand({ StreamName: 'forms', PartitionKey: 'p', Data: Buffer.from(`under key ${i}`) }),
      );
    }
    await client.send(
      new StopStreamEncryptionCommand({
        StreamARN: arnOf('forms'),
        EncryptionType: 'KMS',
        KeyId: forms[forms.length - 1],
      }),
    );
    // Records sealed under every key read back.
    const records = await readAll(client, 'forms');
    assert.deepEqual(
      records.map((r) => Buffer.from(r.Data ?? []).toString()),
      forms.map((_, i) => `under key ${i}`),
    );
    assert.ok(records.every((r) => r.EncryptionType === 'KMS'));
  });

  test('invalid inputs', async () => {
    await createActive(client, 'encerr');
    const start = (input: Record<string, unknown>) =>
      client.send(
        new StartStreamEncryptionCommand({
          StreamName: 'encerr',
          EncryptionType: 'KMS',
          KeyId: keyUuid,
          ...input,
        }),
      );
    const stop = (input: Record<string, unknown>) =>
      client.send(
        new StopStreamEncryptionCommand({
          StreamName: 'encerr',
          EncryptionType: 'KMS',
          KeyId: keyUuid,
          ...input,
        }),
      );
    for (const keyId of [
      'foo',
      'aws/kinesis',
      'alias/',
      '12345678-1234-1234-1234-12345678901',
      'arn:aws:kms:us-east-1:123456789012:key/not-a-uuid',
      'arn:aws:kinesis:us-east-1:123456789012:stream/encerr',
    ]) {
      await assert.rejects(start({ KeyId: keyId }), kmsNotFound(`Invalid keyId ${keyId}`));
    }
    const otherRegionKey = `arn:aws:kms:eu-west-1:123456789012:key/${keyUuid}`;
    await assert.rejects(
      start({ KeyId: otherRegionKey }),
      kmsNotFound(`Key '${otherRegionKey}' does not exist`),
    );
    const otherRegionAlias = 'arn:aws:kms:eu-west-1:123456789012:alias/MyAliasName';
    await assert.rejects(
      start({ KeyId: otherRegionAlias }),
      kmsNotFound(`Alias ${otherRegionAlias} is not found.`),
    );
    await assert.rejects(
      start({ EncryptionType: 'NONE' }),
      invalid('EncryptionType NONE is not supported by StartStreamEncryption. The only valid value is KMS.'),
    );
    await assert.rejects(start({ StreamName: 'nope' }), notFound('nope'));
    await assert.rejects(start({ StreamName: undefined, StreamARN: arnOf('nope') }), notFound('nope'));
    await assert.rejects(
      start({ StreamName: undefined }),
      invalid('Either StreamName or StreamARN should be provided.'),
    );
    await assert.rejects(
      start({ KeyId: '' }),
      validation(
        "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1",
      ),
    );
    const badType = await rawCall(server.port, 'StartStreamEncryption', {
      StreamName: 'encerr',
      EncryptionType: 'AES',
      KeyId: keyUuid,
    });
    assert.equal(badType.body.__type, 'ValidationException');
    assert.match(
      String(badType.body.message),
      /^1 validation error detected: Value 'AES' at 'encryptionType' failed to satisfy constraint: Member must satisfy enum value set: \[(NONE, KMS|KMS, NONE)\]$/,
    );
    // Nothing above changed the stream.
    assert.equal((await summaryOf(client, 'encerr')).EncryptionType, 'NONE');

    await assert.rejects(stop({}), invalid(`Stream encerr under account ${account} is not encrypted.`));
    await start({});
    await assert.rejects(
      stop({ KeyId: keyArn }),
      invalid(`KeyId ${keyArn} is not the key stream encerr under account ${account} is encrypted with.`),
    );
    await assert.rejects(
      stop({ EncryptionType: 'NONE' }),
      invalid('EncryptionType NONE is not supported by StopStreamEncryption. The only valid value is KMS.'),
    );
    await assert.rejects(stop({ StreamName: 'nope' }), notFound('nope'));
    assert.equal((await summaryOf(client, 'encerr')).KeyId, keyUuid);
    await stop({});
  });
});

describe('changes that make a stream UPDATING', () => {
  let server: Sluice;
  let client: KinesisClient;

  before(async () => {
    server = await startTestServer({ engine: { updateStreamMs: 300 } });
    client = kinesisClient(server.port);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('StartStreamEncryption, StopStreamEncryption and EnableEnhancedMonitoring go UPDATING, then ACTIVE', async () => {
    await createActive(client, 'upd');
    await client.send(
      new StartStreamEncryptionCommand({ StreamName: 'upd', EncryptionType: 'KMS', KeyId: keyUuid }),
    );
    assert.equal((await summaryOf(client, 'upd')).StreamStatus, 'UPDATING');
    // Reads and writes continue while UPDATING; other changes are refused.
    const put = await client.send(
      new PutRecordCommand({ StreamName: 'upd', PartitionKey: 'p', Data: Buffer.from('during') }),
    );
    assert.ok(put.SequenceNumber);
    await assert.rejects(
      client.send(
        new StartStreamEncryptionCommand({ StreamName: 'upd', EncryptionType: 'KMS', KeyId: keyArn }),
      ),
      notActive('upd', 'UPDATING'),
    );
    await assert.rejects(
      client.send(
        new StopStreamEncryptionCommand({ StreamName: 'upd', EncryptionType: 'KMS', KeyId: keyUuid }),
      ),
      notActive('upd', 'UPDATING'),
    );
    await assert.rejects(
      client.send(new EnableEnhancedMonitoringCommand({ StreamName: 'upd', ShardLevelMetrics: ['ALL'] })),
      notActive('upd', 'UPDATING'),
    );
    await assert.rejects(
      client.send(new UpdateMaxRecordSizeCommand({ StreamARN: arnOf('upd'), MaxRecordSizeInKiB: 2048 })),
      notActive('upd', 'UPDATING'),
    );
    await waitActive(client, 'upd');
    const summary = await summaryOf(client, 'upd');
    assert.equal(summary.EncryptionType, 'KMS');
    assert.equal(summary.KeyId, keyUuid);

    await client.send(
      new EnableEnhancedMonitoringCommand({ StreamName: 'upd', ShardLevelMetrics: ['IncomingBytes'] }),
    );
    assert.equal((await summaryOf(client, 'upd')).StreamStatus, 'UPDATING');
    await waitActive(client, 'upd');
    // A change that changes nothing leaves the stream ACTIVE.
    await client.send(
      new EnableEnhancedMonitoringCommand({ StreamName: 'upd', ShardLevelMetrics: ['IncomingBytes'] }),
    );
    assert.equal((await summaryOf(client, 'upd')).StreamStatus, 'ACTIVE');

    await client.send(
      new StopStreamEncryptionCommand({ StreamName: 'upd', EncryptionType: 'KMS', KeyId: keyUuid }),
    );
    assert.equal((await summaryOf(client, 'upd')).StreamStatus, 'UPDATING');
    await waitActive(client, 'upd');
    assert.equal((await summaryOf(client, 'upd')).EncryptionType, 'NONE');
  });

  test('a stream still CREATING is refused', async () => {
    const slow = await startTestServer({ engine: { createStreamMs: 300 } });
    const slowClient = kinesisClient(slow.port);
    try {
      await slowClient.send(new CreateStreamCommand({ StreamName: 'young', ShardCount: 1 }));
      await assert.rejects(
        slowClient.send(
          new StartStreamEncryptionCommand({ StreamName: 'young', EncryptionType: 'KMS', KeyId: keyUuid }),
        ),
        notActive('young', 'CREATING'),
      );
      await assert.rejects(
        slowClient.send(
          new DisableEnhancedMonitoringCommand({ StreamName: 'young', ShardLevelMetrics: ['ALL'] }),
        ),
        notActive('young', 'CREATING'),
      );
    } finally {
      slowClient.destroy();
      await slow.close();
    }
  });
});

describe('enhanced monitoring, limits, account settings, record size, warm throughput', () => {
  let server: Sluice;
  let client: KinesisClient;

  before(async () => {
    server = await startTestServer({ engine: { updateStreamMs: 0, shardLimit: 30 } });
    client = kinesisClient(server.port);
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('EnableEnhancedMonitoring / DisableEnhancedMonitoring', async () => {
    await createActive(client, 'mon');
    const enable = (metrics: MetricsName[]) =>
      client.send(new EnableEnhancedMonitoringCommand({ StreamName: 'mon', ShardLevelMetrics: metrics }));
    const disable = (metrics: MetricsName[]) =>
      client.send(
        new DisableEnhancedMonitoringCommand({ StreamARN: arnOf('mon'), ShardLevelMetrics: metrics }),
      );
    const shape = (out: object) => {
      const { $metadata: _m, ...rest } = out as Record<string, unknown>;
      return rest;
    };

    assert.deepEqual(shape(await enable(['OutgoingBytes', 'IncomingBytes'])), {
      StreamName: 'mon',
      CurrentShardLevelMetrics: [],
      DesiredShardLevelMetrics: ['IncomingBytes', 'OutgoingBytes'],
      StreamARN: arnOf('mon'),
    });
    const described = await client.send(new DescribeStreamCommand({ StreamName: 'mon' }));
    assert.deepEqual(described.StreamDescription?.EnhancedMonitoring, [
      { ShardLevelMetrics: ['IncomingBytes', 'OutgoingBytes'] },
    ]);
    // ALL expands, in the order the service prints the metrics.
    const all = [
      'IncomingBytes',
      'OutgoingRecords',
      'IteratorAgeMilliseconds',
      'IncomingRecords',
      'ReadProvisionedThroughputExceeded',
      'WriteProvisionedThroughputExceeded',
      'OutgoingBytes',
    ];
    assert.deepEqual(shape(await enable(['ALL'])), {
      StreamName: 'mon',
      CurrentShardLevelMetrics: ['IncomingBytes', 'OutgoingBytes'],
      DesiredShardLevelMetrics: all,
      StreamARN: arnOf('mon'),
    });
    assert.deepEqual((await summaryOf(client, 'mon')).EnhancedMonitoring, [{ ShardLevelMetrics: all }]);
    const afterDisable = await disable(['IteratorAgeMilliseconds', 'IncomingRecords', 'IncomingRecords']);
    assert.deepEqual(afterDisable.CurrentShardLevelMetrics, all);
    assert.deepEqual(afterDisable.DesiredShardLevelMetrics, [
      'IncomingBytes',
      'OutgoingRecords',
      'ReadProvisionedThroughputExceeded',
      'WriteProvisionedThroughputExceeded',
      'OutgoingBytes',
    ]);
    // Disabling what is not enabled changes nothing and is not an error.
    const again = await disable(['IteratorAgeMilliseconds']);
    assert.deepEqual(again.DesiredShardLevelMetrics, again.CurrentShardLevelMetrics);
    const none = await disable(['ALL']);
    assert.deepEqual(none.DesiredShardLevelMetrics, []);
    assert.deepEqual((await summaryOf(client, 'mon')).EnhancedMonitoring, [{ ShardLevelMetrics: [] }]);

    await assert.rejects(
      client.send(new EnableEnhancedMonitoringCommand({ StreamName: 'nope', ShardLevelMetrics: ['ALL'] })),
      notFound('nope'),
    );
    await assert.rejects(
      client.send(new DisableEnhancedMonitoringCommand({ ShardLevelMetrics: ['ALL'] })),
      invalid('Either StreamName or StreamARN should be provided.'),
    );
    await assert.rejects(
      enable([]),
      validation(
        "1 validation error detected: Value '[]' at 'shardLevelMetrics' failed to satisfy constraint: Member must have length greater than or equal to 1",
      ),
    );
    const badMetric = await rawCall(server.port, 'EnableEnhancedMonitoring', {
      StreamName: 'mon',
      ShardLevelMetrics: ['Bytes'],
    });
    assert.equal(badMetric.body.__type, 'ValidationException');
    assert.match(
      String(badMetric.body.message),
      /^1 validation error detected: Value '\[Bytes\]' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy constraint: \[Member must satisfy enum value set: \[/,
    );
  });

  test('DescribeLimits', async () => {
    const before = await client.send(new DescribeLimitsCommand({}));
    const { $metadata: _m, ...limits } = before;
    assert.deepEqual(Object.keys(limits), [
      'ShardLimit',
      'OpenShardCount',
      'OnDemandStreamCount',
      'OnDemandStreamCountLimit',
    ]);
    assert.equal(limits.ShardLimit, 30);
    assert.equal(limits.OpenShardCount, server.engine.openShardCount());
    assert.equal(limits.OnDemandStreamCountLimit, 50);
    await createActive(client, 'limits-od', 'ON_DEMAND');
    await createActive(client, 'limits-prov');
    const after = await client.send(new DescribeLimitsCommand({}));
    assert.equal(after.OpenShardCount, (limits.OpenShardCount ?? 0) + 4 + 1);
    assert.equal(after.OnDemandStreamCount, (limits.OnDemandStreamCount ?? 0) + 1);
    assert.equal(after.ShardLimit, 30);
  });

  test('DescribeAccountSettings / UpdateAccountSettings', async () => {
    const describe = async () =>
      (await client.send(new DescribeAccountSettingsCommand({}))).MinimumThroughputBillingCommitment;
    const update = async (Status: 'ENABLED' | 'DISABLED') =>
      (
        await client.send(
          new UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status } }),
        )
      ).MinimumThroughputBillingCommitment;

    assert.deepEqual(await describe(), { Status: 'DISABLED' });
    const t0 = Date.now();
    const enabled = await update('ENABLED');
    assert.equal(enabled?.Status, 'ENABLED');
    const started = enabled?.StartedAt?.getTime() ?? 0;
    assert.ok(started >= t0 - 1000 && started <= Date.now() + 1000);
    assert.equal(enabled?.EarliestAllowedEndAt?.getTime(), started + 24 * 3600 * 1000);
    assert.equal(enabled?.EndedAt, undefined);
    assert.deepEqual(await describe(), enabled);
    assert.deepEqual(await update('ENABLED'), enabled, 'enabling again changes nothing');

    // Disabling within the first 24 hours schedules the disable for the earliest allowed end.
    const pending = await update('DISABLED');
    assert.deepEqual(pending, { ...enabled, Status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' });
    assert.deepEqual(await describe(), pending);
    // Enabling again before then cancels the pending disable.
    assert.deepEqual(await update('ENABLED'), enabled);

    // Once the earliest allowed end has passed (set in the store: 24 hours are not waited for),
    // a pending disable has happened and a disable takes effect at once.
    const setting = await server.engine.store.getSetting(commitmentSetting);
    const past = Date.now() - 1000;
    assert.ok(
      await server.engine.store.putSetting(
        commitmentSetting,
        { status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END', startedAtMs: started, earliestAllowedEndAtMs: past },
        setting?.version ?? 0,
      ),
    );
    assert.deepEqual(await describe(), {
      Status: 'DISABLED',
      StartedAt: new Date(started),
      EndedAt: new Date(past),
    });
    const again = await update('ENABLED');
    assert.equal(again?.Status, 'ENABLED');
    assert.ok((again?.StartedAt?.getTime() ?? 0) > started, 'a new commitment starts');
    const current = await server.engine.store.getSetting(commitmentSetting);
    await server.engine.store.putSetting(
      commitmentSetting,
      { status: 'ENABLED', startedAtMs: started, earliestAllowedEndAtMs: past },
      current?.version ?? 0,
    );
    const t1 = Date.now();
    const disabled = await update('DISABLED');
    assert.equal(disabled?.Status, 'DISABLED');
    assert.equal(disabled?.StartedAt?.getTime(), started);
    assert.ok((disabled?.EndedAt?.getTime() ?? 0) >= t1 - 1000);
    assert.deepEqual(await update('DISABLED'), disabled, 'disabling again changes nothing');

    await assert.rejects(
      client.send(new UpdateAccountSettingsCommand({} as never)),
      validation(
        "1 validation error detected: Value null at 'minimumThroughputBillingCommitment' failed to satisfy constraint: Member must not be null",
      ),
    );
    const badStatus = await rawCall(server.port, 'UpdateAccountSettings', {
      MinimumThroughputBillingCommitment: { Status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' },
    });
    assert.equal(badStatus.body.__type, 'ValidationException');
    assert.match(
      String(badStatus.body.message),
      /^1 validation error detected: Value 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' at 'minimumThroughputBillingCommitment.status' failed to satisfy constraint: Member must satisfy enum value set: \[/,
    );
  });

  test('UpdateMaxRecordSize: a 2 MiB record fails before and succeeds after raising the limit', async () => {
    await createActive(client, 'big');
    const twoMiB = Buffer.alloc(2 * 1024 * 1024, 7);
    await assert.rejects(
      client.send(new PutRecordCommand({ StreamName: 'big', PartitionKey: 'p', Data: twoMiB })),
      tooLarge(twoMiB.length, 1024 * 1024),
    );
    const out = await client.send(
      new UpdateMaxRecordSizeCommand({ StreamARN: arnOf('big'), MaxRecordSizeInKiB: 2048 }),
    );
    const { $metadata: _m, ...body } = out;
    assert.deepEqual(body, {});
    await client.send(new PutRecordCommand({ StreamName: 'big', PartitionKey: 'p', Data: twoMiB }));
    const batch = await client.send(
      new PutRecordsCommand({ StreamName: 'big', Records: [{ PartitionKey: 'q', Data: twoMiB }] }),
    );
    assert.equal(batch.FailedRecordCount, 0);
    const over = Buffer.alloc(2 * 1024 * 1024 + 1);
    await assert.rejects(
      client.send(new PutRecordCommand({ StreamName: 'big', PartitionKey: 'p', Data: over })),
      tooLarge(over.length, 2 * 1024 * 1024),
    );

    // The largest record the service takes: 10 MiB (about 13.4 MiB of base64 in the request).
    await client.send(new UpdateMaxRecordSizeCommand({ StreamARN: arnOf('big'), MaxRecordSizeInKiB: 10240 }));
    const tenMiB = Buffer.alloc(10 * 1024 * 1024, 9);
    tenMiB.write('end', tenMiB.length - 3);
    await client.send(new PutRecordCommand({ StreamName: 'big', PartitionKey: 'p', Data: tenMiB }));
    const iterator = await client.send(
      new GetShardIteratorCommand({
        StreamName: 'big',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const first = await client.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }));
    assert.equal(first.Records?.length, 2, 'GetRecords stops at 10 MiB, after the two 2 MiB records');
    assert.ok(first.Records?.every((r) => Buffer.from(r.Data ?? []).equals(twoMiB)));
    const second = await client.send(new GetRecordsCommand({ ShardIterator: first.NextShardIterator }));
    assert.equal(second.Records?.length, 1);
    assert.ok(
      Buffer.from(second.Records?.[0]?.Data ?? []).equals(tenMiB),
      'the 10 MiB record reads back whole',
    );

    await assert.rejects(
      client.send(new UpdateMaxRecordSizeCommand({ StreamARN: arnOf('big'), MaxRecordSizeInKiB: 1023 })),
      validation(
        "1 validation error detected: Value '1023' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value greater than or equal to 1024",
      ),
    );
    await assert.rejects(
      client.send(new UpdateMaxRecordSizeCommand({ StreamARN: arnOf('big'), MaxRecordSizeInKiB: 10241 })),
      validation(
        "1 validation error detected: Value '10241' at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must have value less than or equal to 10240",
      ),
    );
    await assert.rejects(
      client.send(new UpdateMaxRecordSizeCommand({ StreamARN: arnOf('nope'), MaxRecordSizeInKiB: 2048 })),
      notFound('nope'),
    );
    await assert.rejects(
      client.send(new UpdateMaxRecordSizeCommand({ MaxRecordSizeInKiB: 2048 })),
      invalid('Either StreamName or StreamARN should be provided.'),
    );
  });

  test('UpdateStreamWarmThroughput', async () => {
    await createActive(client, 'warm', 'ON_DEMAND');
    await createActive(client, 'cold');
    const warm = (input: Record<string, unknown>) =>
      client.send(
        new UpdateStreamWarmThroughputCommand({ StreamName: 'warm', WarmThroughputMiBps: 100, ...input }),
      );

    await assert.rejects(
      warm({ StreamName: 'cold' }),
      validation(
        `Warm throughput is only supported for streams in ON_DEMAND capacity mode. Stream cold under account ${account} is in PROVISIONED mode.`,
      ),
    );
    await client.send(
      new UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'DISABLED' } }),
    );
    const commitment = await client.send(new DescribeAccountSettingsCommand({}));
    assert.equal(commitment.MinimumThroughputBillingCommitment?.Status, 'DISABLED');
    await assert.rejects(
      warm({}),
      invalid(
        `Warm throughput requires MinimumThroughputBillingCommitment to be enabled for account ${account}.`,
      ),
    );
    await client.send(
      new UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'ENABLED' } }),
    );

    const first = await warm({});
    const { $metadata: _m, ...body } = first;
    assert.deepEqual(body, {
      StreamARN: arnOf('warm'),
      StreamName: 'warm',
      WarmThroughput: { TargetMiBps: 100, CurrentMiBps: 4 },
    });
    const second = await warm({ StreamName: undefined, StreamARN: arnOf('warm'), WarmThroughputMiBps: 50 });
    assert.deepEqual(second.WarmThroughput, { TargetMiBps: 50, CurrentMiBps: 100 });

    await assert.rejects(warm({ WarmThroughputMiBps: 10241 }), {
      name: 'LimitExceededException',
      message: 'WarmThroughputMiBps 10241 exceeds the limit of 10240 MiBps for an on-demand stream.',
    });
    await assert.rejects(
      warm({ WarmThroughputMiBps: -1 }),
      validation(
        "1 validation error detected: Value '-1' at 'warmThroughputMiBps' failed to satisfy constraint: Member must have value greater than or equal to 0",
      ),
    );
    await assert.rejects(warm({ StreamName: 'nope' }), notFound('nope'));
  });
});

describe('encryption at rest and persistence', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-settings-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('data put after StartStreamEncryption is not in the database file in the clear', async () => {
    const marker = `sluice-${process.pid}-${Date.now()}`;
    const plainPayload = Buffer.from(`PLAINTEXT-BEFORE-${marker}`);
    const secretPayload = Buffer.from(`SECRET-AFTER-${marker}`);
    let server = await startTestServer({ memory: false, dataDir, engine: { updateStreamMs: 0 } });
    let client = kinesisClient(server.port);
    try {
      await createActive(client, 'rest');
      await client.send(new PutRecordCommand({ StreamName: 'rest', PartitionKey: 'p', Data: plainPayload }));
      await client.send(
        new StartStreamEncryptionCommand({
          StreamName: 'rest',
          EncryptionType: 'KMS',
          KeyId: 'alias/aws/kinesis',
        }),
      );
      await client.send(new PutRecordCommand({ StreamName: 'rest', PartitionKey: 'p', Data: secretPayload }));
      await client.send(
        new EnableEnhancedMonitoringCommand({ StreamName: 'rest', ShardLevelMetrics: ['IncomingBytes'] }),
      );
      await client.send(
        new UpdateMaxRecordSizeCommand({ StreamARN: arnOf('rest'), MaxRecordSizeInKiB: 4096 }),
      );
      await client.send(
        new UpdateAccountSettingsCommand({ MinimumThroughputBillingCommitment: { Status: 'ENABLED' } }),
      );
    } finally {
      client.destroy();
      await server.close();
    }

    const db = new Database(join(dataDir, 'sluice.db'), { readonly: true });
    try {
      // Each PutRecord committed alone, so each record is a chunk of its own (src/store/chunks.ts).
      const rows = db.prepare('SELECT count, key_ids, body FROM chunks ORDER BY first_pos').all() as Array<{
        count: number;
        key_ids: string | null;
        body: Buffer;
      }>;
      assert.deepEqual(
        rows.map((r) => r.count),
        [1, 1],
      );
      assert.ok(rows[0]?.body.includes(plainPayload), 'the record put before encryption is stored as sent');
      assert.equal(rows[0]?.key_ids, null);
      assert.ok(
        rows[1] && !rows[1].body.includes(secretPayload),
        'the encrypted record is not stored as sent',
      );
      assert.ok(rows[1] && !rows[1].body.includes(Buffer.from(marker)));
      assert.equal(rows[1]?.key_ids, JSON.stringify(['alias/aws/kinesis']));
    } finally {
      db.close();
    }
    // Nor anywhere in the files of the database.
    for (const file of ['sluice.db', 'sluice.db-wal']) {
      const path = join(dataDir, file);
      if (!existsSync(path)) continue;
      assert.ok(!readFileSync(path).includes(secretPayload), `${file} does not hold the secret payload`);
    }
    assert.ok(readFileSync(join(dataDir, 'sluice.db')).includes(plainPayload));

    // After a restart the settings are still there and both records read back.
    server = await startTestServer({ memory: false, dataDir, engine: { updateStreamMs: 0 } });
    client = kinesisClient(server.port);
    try {
      const summary = await summaryOf(client, 'rest');
      assert.equal(summary.EncryptionType, 'KMS');
      assert.equal(summary.KeyId, 'alias/aws/kinesis');
      assert.deepEqual(summary.EnhancedMonitoring, [{ ShardLevelMetrics: ['IncomingBytes'] }]);
      const settings = await client.send(new DescribeAccountSettingsCommand({}));
      assert.equal(settings.MinimumThroughputBillingCommitment?.Status, 'ENABLED');
      const records = await readAll(client, 'rest');
      assert.deepEqual(
        records.map((r) => [Buffer.from(r.Data ?? []).toString(), r.EncryptionType]),
        [
          [plainPayload.toString(), undefined],
          [secretPayload.toString(), 'KMS'],
        ],
      );
      // The raised record size survived too.
      const threeMiB = Buffer.alloc(3 * 1024 * 1024);
      await client.send(new PutRecordCommand({ StreamName: 'rest', PartitionKey: 'p', Data: threeMiB }));
    } finally {
      client.destroy();
      await server.close();
    }
  });
});
