import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DescribeLimitsCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { subscriptionStats } from '../src/api/subscribe.js';
import type { Sluice } from '../src/app.js';
import { AdminClient } from '../src/chaos/client.js';
import { FaultEngine } from '../src/chaos/faults.js';
import type { RuleSpec } from '../src/chaos/rules.js';
import { compileRule, probabilityAt } from '../src/chaos/rules.js';
import { messages } from '../src/engine/messages.js';
import type { RequestContext } from '../src/server/handler.js';
import { kinesisClient, sleep, startTestServer, testCredentials } from './helpers.js';

const account = '000000000000';
const arnOf = (name: string) => `arn:aws:kinesis:us-east-1:${account}:stream/${name}`;
const internalMessage =
  'The request processing has failed because of an unknown error, exception or failure.';

interface SdkError {
  name: string;
  message: string;
  $metadata?: { httpStatusCode?: number };
}

/** The error a call fails with (it must fail). */
async function failure(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (error) {
    return error as SdkError;
  }
  assert.fail('the call succeeded');
}

const short = (e: SdkError) => ({ name: e.name, message: e.message, status: e.$metadata?.httpStatusCode });

const overloaded = (error: unknown) =>
  (error as SdkError)?.name === 'ServiceUnavailable' &&
  /^Sluice is overloaded/.test((error as SdkError).message);

/**
 * A busy test machine can push the server's event-loop delay past the guard's alarm, and the
 * guard then sheds requests with 503 "Sluice is overloaded". That answer is not the one a test
 * looks at: a patient client sends the request again.
 */
export function patient(client: KinesisClient): KinesisClient {
  const send = client.send.bind(client) as (command: unknown, options?: unknown) => Promise<unknown>;
  const retrying = async (command: unknown, options?: unknown) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send(command, options);
      } catch (error) {
        if (attempt >= 30 || !overloaded(error)) throw error;
        await sleep(Math.min(1_000, 50 * attempt));
      }
    }
  };
  (client as unknown as { send: typeof retrying }).send = retrying;
  return client;
}

describe('fault injection', () => {
  let server: Sluice;
  let client: KinesisClient;
  let http1: KinesisClient;
  let admin: AdminClient;
  const add = (rule: RuleSpec) => server.chaos.faults.add([rule]);

  before(async () => {
    server = await startTestServer({ chaos: { adminPort: 0 } });
    client = patient(kinesisClient(server.port));
    http1 = patient(kinesisClient(server.port, { http1: true }));
    admin = new AdminClient(`http://127.0.0.1:${server.adminPort}`);
    for (const [name, shards] of [
      ['orders', 2],
      ['down', 1],
      ['up', 1],
    ] as const) {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
    }
  });
  after(async () => {
    client.destroy();
    http1.destroy();
    await server.close();
  });

  test('the SDK receives exactly the injected errors: name, message and status, over HTTP/2 and HTTP/1.1', async () => {
    server.chaos.clear();
    const cases: Array<{ rule: RuleSpec; call: () => Promise<unknown>; expect: ReturnType<typeof short> }> = [
      {
        rule: { operations: ['ListStreams'], effect: { type: 'error', error: 'InternalFailure' } },
        call: () => client.send(new ListStreamsCommand({})),
        expect: { name: 'InternalFailure', message: internalMessage, status: 500 },
      },
      {
        rule: { operations: ['DescribeLimits'], effect: { type: 'error', error: 'ThrottlingException' } },
        call: () => http1.send(new DescribeLimitsCommand({})),
        expect: { name: 'ThrottlingException', message: 'Rate exceeded', status: 400 },
      },
      {
        rule: { operations: ['ListShards'], effect: { type: 'error', error: 'ServiceUnavailable' } },
        call: () => client.send(new ListShardsCommand({ StreamName: 'orders' })),
        expect: {
          name: 'ServiceUnavailable',
          message: 'The request has failed due to a temporary failure of the server.',
          status: 503,
        },
      },
      {
        rule: {
          operations: ['PutRecord'],
          effect: { type: 'error', error: 'ProvisionedThroughputExceededException' },
        },
        // ExplicitHashKey 0 routes to the first shard.
        call: () =>
          client.send(
            new PutRecordCommand({
              StreamName: 'orders',
              PartitionKey: 'a',
              ExplicitHashKey: '0',
              Data: Buffer.from('x'),
            }),
          ),
        expect: {
          name: 'ProvisionedThroughputExceededException',
          message: messages.writeRateExceeded('shardId-000000000000', 'orders', account),
          status: 400,
        },
      },
      {
        rule: { operations: ['DescribeStream'], effect: { type: 'error', error: 'LimitExceededException' } },
        call: () => http1.send(new DescribeStreamCommand({ StreamName: 'orders' })),
        expect: {
          name: 'LimitExceededException',
          message: `Rate exceeded for stream orders under account ${account}.`,
          status: 400,
        },
      },
      {
        rule: {
          operations: ['ListStreams'],
          effect: {
            type: 'error',
            error: 'KMSThrottlingException',
            message: 'Rate exceeded for KMS',
            status: 400,
          },
        },
        call: () => http1.send(new ListStreamsCommand({})),
        expect: { name: 'KMSThrottlingException', message: 'Rate exceeded for KMS', status: 400 },
      },
    ];
    for (const { rule, call, expect } of cases) {
      const [added] = add(rule);
      assert.deepEqual(short(await failure(call())), expect, JSON.stringify(rule.effect));
      server.chaos.faults.remove(added?.id ?? '');
    }
  });

  test("ExpiredIteratorException names the iterator's own issue time", async () => {
    server.chaos.clear();
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: 'orders',
        ShardId: 'shardId-000000000001',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    add({
      operations: ['GetRecords'],
      shards: ['shardId-000000000001'],
      effect: { type: 'error', error: 'ExpiredIteratorException' },
    });
    const error = await failure(client.send(new GetRecordsCommand({ ShardIterator })));
    assert.equal(error.name, 'ExpiredIteratorException');
    assert.equal(error.$metadata?.httpStatusCode, 400);
    assert.match(
      error.message,
      /^Iterator expired\. The iterator was created at time \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} while right now it is \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4} which is further in the future than the tolerated delay of 300000 milliseconds\.$/,
    );
    // Another shard's iterator is not matched by the rule.
    const other = await client.send(
      new GetShardIteratorCommand({
        StreamName: 'orders',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    await client.send(new GetRecordsCommand({ ShardIterator: other.ShardIterator }));
    server.chaos.clear();
  });

  test('1,000 calls at p=0.3 fail within a binomial 5-sigma band', async () => {
    server.chaos.clear();
    const [rule] = add({
      operations: ['DescribeLimits'],
      probability: 0.3,
      effect: { type: 'error', error: 'InternalFailure' },
    });
    const n = 1_000;
    let failed = 0;
    // A few at a time: the clients share the server's event loop, whose delay the guard watches.
    for (let i = 0; i < n; i += 5) {
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => http1.send(new DescribeLimitsCommand({}))),
      );
      failed += results.filter((r) => r.status === 'rejected').length;
    }
    const sigma = Math.sqrt(n * 0.3 * 0.7);
    assert.ok(Math.abs(failed - n * 0.3) <= 5 * sigma, `${failed} failures of ${n}`);
    const [view] = server.chaos.faults.list().filter((r) => r.id === rule?.id);
    assert.equal(view?.matched, n);
    assert.equal(view?.hits, failed);
    server.chaos.clear();
  });

  test("the probability rises linearly over the ramp, within the rule's start and duration", () => {
    const rule = compileRule(
      { probability: 0.8, start: '1s', duration: '10s', ramp: '4s', effect: { type: 'reset' } },
      { id: 'r', baseMs: 1_000 },
    );
    assert.equal(probabilityAt(rule, 1_999), 0);
    assert.equal(probabilityAt(rule, 2_000), 0);
    assert.equal(probabilityAt(rule, 3_000), 0.2);
    assert.equal(probabilityAt(rule, 4_000), 0.4);
    assert.equal(probabilityAt(rule, 6_000), 0.8);
    assert.equal(probabilityAt(rule, 11_999), 0.8);
    assert.equal(probabilityAt(rule, 12_000), 0);
    // Scenario speed divides every time.
    const fast = compileRule(
      { start: '1h', duration: '1h', ramp: '30m', effect: { type: 'reset' } },
      {
        id: 'f',
        baseMs: 0,
        speed: 3_600,
      },
    );
    assert.deepEqual([fast.startMs, fast.endMs, fast.rampMs], [1_000, 2_000, 500]);
  });

  test('added latency draws as configured: fixed, uniform and normal', () => {
    const faults = new FaultEngine({ engine: server.engine });
    const draw = (rule: RuleSpec, n: number) => {
      faults.clear();
      faults.add([rule]);
      return Array.from({ length: n }, () => {
        const context = {
          requestId: 'r',
          operation: 'DescribeLimits',
          input: {},
          req: {},
          body: Buffer.alloc(0),
        };
        return faults.decide(context as unknown as RequestContext)?.delayMs ?? 0;
      });
    };
    const stats = (values: number[]) => {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
      return { mean, sd, min: Math.min(...values), max: Math.max(...values) };
    };
    const n = 4_000;
    assert.deepEqual(new Set(draw({ effect: { type: 'latency', ms: 300 } }, 100)), new Set([300]));
    const uniform = stats(draw({ effect: { type: 'latency', minMs: 100, maxMs: 400 } }, n));
    assert.ok(uniform.min >= 100 && uniform.max <= 400, JSON.stringify(uniform));
    // Uniform on [100, 400]: mean 250, deviation 300/sqrt(12); the sample mean within 5 standard errors.
    assert.ok(
      Math.abs(uniform.mean - 250) <= (5 * (300 / Math.sqrt(12))) / Math.sqrt(n),
      JSON.stringify(uniform),
    );
    const normal = stats(draw({ effect: { type: 'latency', meanMs: 250, stdDevMs: 40 } }, n));
    assert.ok(Math.abs(normal.mean - 250) <= (5 * 40) / Math.sqrt(n), JSON.stringify(normal));
    // The sample deviation's standard error is about sd / sqrt(2n).
    assert.ok(Math.abs(normal.sd - 40) <= (5 * 40) / Math.sqrt(2 * n), JSON.stringify(normal));
    const clamped = stats(draw({ effect: { type: 'latency', meanMs: 0, stdDevMs: 50 } }, 200));
    assert.equal(clamped.min, 0, 'never negative');
  });

  test('the SDK waits the added latency', async () => {
    server.chaos.clear();
    const timed = async (count: number) =>
      Promise.all(
        Array.from({ length: count }, async () => {
          const started = performance.now();
          await http1.send(new DescribeLimitsCommand({}));
          return performance.now() - started;
        }),
      );
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
    const without = median(await timed(5));
    add({ id: 'fixed', operations: ['DescribeLimits'], effect: { type: 'latency', ms: 300 } });
    const fixed = await timed(5);
    for (const ms of fixed) assert.ok(ms >= 295, `fixed: ${ms}`);
    // Generous above: the test machine may be busy.
    assert.ok(median(fixed) < 300 + without + 1_000, `median ${median(fixed)}, ${without} without`);
    server.chaos.faults.remove('fixed');
    add({
      id: 'uniform',
      operations: ['DescribeLimits'],
      effect: { type: 'latency', minMs: 100, maxMs: 400 },
    });
    for (const ms of await timed(10)) assert.ok(ms >= 95, `uniform: ${ms}`);
    server.chaos.faults.remove('uniform');
  });

  test('rules start and expire on time', async () => {
    server.chaos.clear();
    const addedMs = Date.now();
    add({
      id: 'later',
      operations: ['DescribeLimits'],
      start: 2_000,
      duration: 2_000,
      effect: { type: 'error', error: 'InternalFailure' },
    });
    const since = () => Date.now() - addedMs;
    await client.send(new DescribeLimitsCommand({}));
    assert.ok(since() < 2_000, 'answered before the start');
    assert.equal(server.chaos.faults.list()[0]?.state, 'pending');
    await sleep(2_500 - since());
    assert.equal(server.chaos.faults.list()[0]?.state, 'active');
    assert.equal((await failure(client.send(new DescribeLimitsCommand({})))).name, 'InternalFailure');
    assert.ok(since() < 4_000, "failed within the rule's time");
    await sleep(4_100 - since());
    await client.send(new DescribeLimitsCommand({}));
    assert.deepEqual(server.chaos.faults.list(), [], 'an expired rule is gone');
  });

  test('PutRecords: a fraction of the records fails in place and is not written', async () => {
    server.chaos.clear();
    await client.send(new CreateStreamCommand({ StreamName: 'partial', ShardCount: 2 }));
    add({ effect: { type: 'partial', fraction: 0.25 } });
    const records = Array.from({ length: 100 }, (_, i) => ({
      PartitionKey: `key-${i}`,
      Data: Buffer.from(`r${i}`),
    }));
    const out = await client.send(new PutRecordsCommand({ StreamName: 'partial', Records: records }));
    assert.equal(out.FailedRecordCount, 25);
    assert.equal(out.Records?.length, 100);
    const failed = (out.Records ?? []).filter((r) => r.ErrorCode !== undefined);
    assert.equal(failed.length, 25);
    for (const r of failed) {
      assert.equal(r.ErrorCode, 'ProvisionedThroughputExceededException');
      assert.match(
        r.ErrorMessage ?? '',
        /^Rate exceeded for shard shardId-00000000000[01] in stream partial under account 000000000000\.$/,
      );
      assert.equal(r.SequenceNumber, undefined);
    }
    const written = new Set<string>();
    for (const shard of ['shardId-000000000000', 'shardId-000000000001']) {
      const it = await client.send(
        new GetShardIteratorCommand({
          StreamName: 'partial',
          ShardId: shard,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const got = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
      for (const r of got.Records ?? []) written.add(Buffer.from(r.Data ?? []).toString());
    }
    assert.equal(written.size, 75, 'only the records answered with a sequence number are stored');
    (out.Records ?? []).forEach((r, i) => {
      assert.equal(written.has(`r${i}`), r.ErrorCode === undefined, `record ${i} in its place`);
    });
    server.chaos.clear();

    // InternalFailure per record, only on one shard's records.
    add({
      shards: ['shardId-000000000001'],
      effect: { type: 'partial', fraction: 1, errorCode: 'InternalFailure' },
    });
    const second = await client.send(new PutRecordsCommand({ StreamName: 'partial', Records: records }));
    const failedShard1 = (second.Records ?? []).filter((r) => r.ErrorCode === 'InternalFailure');
    assert.ok(failedShard1.length > 0 && failedShard1.length < 100);
    assert.equal(second.FailedRecordCount, failedShard1.length);
    for (const r of failedShard1) assert.equal(r.ErrorMessage, 'Internal Service Failure');
    for (const r of second.Records ?? [])
      if (r.ErrorCode === undefined) assert.equal(r.ShardId, 'shardId-000000000000');
    server.chaos.clear();
  });

  test('a reset connection fails the call without an answer (HTTP/2 and HTTP/1.1)', async () => {
    server.chaos.clear();
    add({ operations: ['DescribeStream'], effect: { type: 'reset' } });
    const h2 = await failure(client.send(new DescribeStreamCommand({ StreamName: 'orders' })));
    assert.equal(h2.$metadata?.httpStatusCode, undefined, `no HTTP answer: ${h2.name} ${h2.message}`);
    const h1 = await failure(http1.send(new DescribeStreamCommand({ StreamName: 'orders' })));
    assert.equal(h1.$metadata?.httpStatusCode, undefined, `no HTTP answer: ${h1.name} ${h1.message}`);
    assert.match(`${h1.name} ${h1.message} ${(h1 as { code?: string }).code}`, /ECONNRESET|socket hang up/);
    server.chaos.clear();
    await client.send(new DescribeStreamCommand({ StreamName: 'orders' }));
  });

  test('a hang lasts until the client gives up, or until its cap', async () => {
    server.chaos.clear();
    add({ operations: ['DescribeStream'], effect: { type: 'hang', maxMs: 1_000 } });
    let started = Date.now();
    const gaveUp = await failure(
      client.send(new DescribeStreamCommand({ StreamName: 'orders' }), {
        abortSignal: AbortSignal.timeout(300),
      }),
    );
    assert.ok(
      Date.now() - started >= 290 && Date.now() - started < 900,
      `client timeout after ${Date.now() - started} ms`,
    );
    assert.match(`${gaveUp.name} ${gaveUp.message}`, /abort/i);
    // Without a client timeout, the server resets the request at the cap.
    started = Date.now();
    await failure(http1.send(new DescribeStreamCommand({ StreamName: 'orders' })));
    const waited = Date.now() - started;
    assert.ok(waited >= 950 && waited < 5_000, `reset at the cap after ${waited} ms`);
    server.chaos.clear();
    await sleep(50);
    const health = (await (await fetch(`http://127.0.0.1:${server.port}/health`)).json()) as {
      resources: Array<{ name: string; value: number }>;
    };
    assert.equal(
      health.resources.find((r) => r.name === 'in_flight_requests')?.value,
      0,
      'no request left hanging',
    );
  });

  test('a SubscribeToShard stream is cut mid-way: an exception event, or a reset', async () => {
    server.chaos.clear();
    await client.send(
      new PutRecordCommand({ StreamName: 'orders', PartitionKey: 'a', Data: Buffer.from('one') }),
    );
    const { Consumer } = await client.send(
      new RegisterStreamConsumerCommand({ StreamARN: arnOf('orders'), ConsumerName: 'cut-test' }),
    );
    const subscribe = async (shard: string) => {
      const out = await client.send(
        new SubscribeToShardCommand({
          ConsumerARN: Consumer?.ConsumerARN,
          ShardId: shard,
          StartingPosition: { Type: 'TRIM_HORIZON' },
        }),
      );
      const events: unknown[] = [];
      const started = Date.now();
      try {
        for await (const event of out.EventStream ?? []) events.push(event);
        return { events: events.length, ms: Date.now() - started, error: undefined };
      } catch (error) {
        return { events: events.length, ms: Date.now() - started, error: error as SdkError };
      }
    };
    add({ id: 'cut-error', effect: { type: 'cut', afterEvents: 3 } });
    const cutByError = await subscribe('shardId-000000000000');
    assert.equal(cutByError.error?.name, 'InternalFailureException');
    assert.equal(cutByError.error?.message, internalMessage);
    assert.equal(cutByError.events, 2, 'two events, then the exception (the initial response counts as one)');
    server.chaos.faults.remove('cut-error');

    add({ id: 'cut-reset', effect: { type: 'cut', afterMs: 1_500, how: 'reset' } });
    const cutByReset = await subscribe('shardId-000000000001');
    assert.ok(
      cutByReset.ms >= 1_400 && cutByReset.ms < 15_000,
      `cut after ${cutByReset.ms} ms, not 5 minutes`,
    );
    assert.ok(cutByReset.error !== undefined || cutByReset.events < 10, 'the iterator errors or ends early');
    server.chaos.clear();
    await sleep(100);
    assert.equal(subscriptionStats(server.engine).active, 0, 'the server stopped pushing');
  });

  test('routing unavailable for one stream: every call on it fails as in 2020, another stream works', async () => {
    server.chaos.clear();
    await client.send(
      new PutRecordCommand({ StreamName: 'down', PartitionKey: 'a', Data: Buffer.from('before') }),
    );
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: 'down',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const { Consumer } = await client.send(
      new RegisterStreamConsumerCommand({ StreamARN: arnOf('down'), ConsumerName: 'live' }),
    );
    const live = client
      .send(
        new SubscribeToShardCommand({
          ConsumerARN: Consumer?.ConsumerARN,
          ShardId: 'shardId-000000000000',
          StartingPosition: { Type: 'TRIM_HORIZON' },
        }),
      )
      .then(async (out) => {
        for await (const _ of out.EventStream ?? []) {
          // events until the stream is cut
        }
        return undefined;
      })
      .catch((error: SdkError) => error);
    await sleep(300);

    add({ streams: ['down'], effect: { type: 'routing-unavailable' } });
    const seen = new Map<string, number>();
    const calls = [
      () =>
        client.send(new PutRecordCommand({ StreamName: 'down', PartitionKey: 'a', Data: Buffer.from('x') })),
      () =>
        client.send(
          new PutRecordsCommand({
            StreamName: 'down',
            Records: [{ PartitionKey: 'a', Data: Buffer.from('x') }],
          }),
        ),
      () => client.send(new DescribeStreamCommand({ StreamARN: arnOf('down') })),
      () => client.send(new ListShardsCommand({ StreamName: 'down' })),
      () => client.send(new GetRecordsCommand({ ShardIterator })),
      () =>
        client.send(
          new GetShardIteratorCommand({
            StreamName: 'down',
            ShardId: 'shardId-000000000000',
            ShardIteratorType: 'LATEST',
          }),
        ),
    ];
    for (let i = 0; i < 48; i++) {
      const error = short(await failure((calls[i % calls.length] as () => Promise<unknown>)()));
      const key = `${error.name} ${error.status} ${error.message}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    assert.deepEqual([...seen.keys()].sort(), [
      `InternalFailure 500 ${internalMessage}`,
      'ServiceUnavailable 503 The request has failed due to a temporary failure of the server.',
    ]);
    const cut = await live;
    assert.equal(cut?.name, 'InternalFailureException', 'a live subscription on the stream is cut too');

    // The other stream, and calls naming no stream, still work.
    await client.send(new PutRecordCommand({ StreamName: 'up', PartitionKey: 'a', Data: Buffer.from('x') }));
    await client.send(new DescribeStreamCommand({ StreamName: 'up' }));
    await client.send(new ListStreamsCommand({}));
    server.chaos.clear();
    await client.send(new DescribeStreamCommand({ StreamName: 'down' }));
  });

  test('rules match callers by access key id, user agent and source address', async () => {
    server.chaos.clear();
    const other = patient(
      kinesisClient(server.port, {
        credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'x' },
        userAgentAppId: 'billing-app',
      }),
    );
    try {
      add({
        id: 'key',
        accessKeyIds: [testCredentials.accessKeyId],
        effect: { type: 'error', error: 'InternalFailure' },
      });
      await failure(client.send(new ListStreamsCommand({})));
      await other.send(new ListStreamsCommand({}));
      server.chaos.clear();
      add({
        id: 'agent',
        userAgents: ['app/billing-app'],
        effect: { type: 'error', error: 'InternalFailure' },
      });
      await client.send(new ListStreamsCommand({}));
      await failure(other.send(new ListStreamsCommand({})));
      server.chaos.clear();
      add({
        id: 'address',
        sourceAddresses: ['127.0.0.1'],
        effect: { type: 'error', error: 'InternalFailure' },
      });
      await failure(client.send(new ListStreamsCommand({})));
      server.chaos.clear();
      add({
        id: 'elsewhere',
        sourceAddresses: ['10.1.2.3'],
        effect: { type: 'error', error: 'InternalFailure' },
      });
      await client.send(new ListStreamsCommand({}));
    } finally {
      other.destroy();
      server.chaos.clear();
    }
  });

  test('the admin API adds, lists and removes rules, and refuses bad ones with the reason', async () => {
    server.chaos.clear();
    const added = await admin.call<{ rules: Array<{ id: string; state: string }> }>('POST', '/faults', {
      id: 'api-rule',
      operations: ['DescribeLimits'],
      duration: '1m',
      effect: { type: 'error', error: 'InternalFailure' },
    });
    assert.equal(added.rules[0]?.id, 'api-rule');
    assert.equal((await failure(client.send(new DescribeLimitsCommand({})))).name, 'InternalFailure');
    const listed = await admin.call<{ rules: Array<{ id: string; hits: number }> }>('GET', '/faults');
    assert.deepEqual(
      listed.rules.map((r) => [r.id, r.hits]),
      [['api-rule', 1]],
    );
    await admin.call('DELETE', '/faults/api-rule');
    await client.send(new DescribeLimitsCommand({}));
    await assert.rejects(admin.call('DELETE', '/faults/api-rule'), /404 no rule api-rule/);
    await assert.rejects(
      admin.call('POST', '/faults', { operations: ['PutRecordz'], effect: { type: 'reset' } }),
      /400 rule r\d+: PutRecordz is not a Kinesis operation/,
    );
    await assert.rejects(
      admin.call('POST', '/faults', { effect: { type: 'error', error: 'MadeUpError' } }),
      /give its "message"/,
    );
    await assert.rejects(
      admin.call('POST', '/faults', {
        operations: ['PutRecord'],
        effect: { type: 'partial', fraction: 0.5 },
      }),
      /applies to PutRecords only/,
    );
    await assert.rejects(
      admin.call(
        'POST',
        '/faults',
        Array.from({ length: 101 }, () => ({ effect: { type: 'reset' } })),
      ),
      /at most 100 are held/,
    );
    assert.equal(server.chaos.faults.size, 0, 'all or none');
    // A page on another site reaching the loopback through DNS rebinding names its own host.
    const forged = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.adminPort,
          path: '/faults',
          method: 'POST',
          headers: { Host: 'attacker.example', 'Content-Type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ effect: { type: 'reset' } }));
    });
    assert.equal(forged, 403);
    const plain = await fetch(`http://127.0.0.1:${server.adminPort}/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: JSON.stringify({ effect: { type: 'reset' } }),
    });
    assert.equal(plain.status, 415);
    assert.equal(server.chaos.faults.size, 0);
  });
});

describe('fault rules held from the start (--faults FILE)', () => {
  test('a server started with rules applies them at once; bad rules stop it from starting', async () => {
    const server = await startTestServer({
      chaos: {
        faults: [{ operations: ['ListStreams'], effect: { type: 'error', error: 'ThrottlingException' } }],
      },
    });
    const client = kinesisClient(server.port);
    try {
      assert.deepEqual(short(await failure(client.send(new ListStreamsCommand({})))), {
        name: 'ThrottlingException',
        message: 'Rate exceeded',
        status: 400,
      });
      assert.equal(server.adminPort, undefined, 'no admin API unless asked');
    } finally {
      client.destroy();
      await server.close();
    }
    await assert.rejects(
      startTestServer({ chaos: { faults: { name: 'bad', rules: [{ effect: { type: 'explode' } }] } } }),
      /rule r1: effect: type must be one of error, latency, partial, reset, hang, cut, routing-unavailable/,
    );
  });
});
