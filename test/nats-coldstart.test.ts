/**
 * A frontend's cold start over a NATS store that holds 1,000 streams: the time from starting
 * `sluice serve --store nats://...` to its listening line (the metadata log is replayed before it
 * serves). Prints the figures; the bound is generous, for slow CI machines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DescribeStreamSummaryCommand, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { forEachLimited } from '../src/store/nats/client.js';
import { NatsStore } from '../src/store/nats.js';
import { kinesisClient } from './helpers.js';
import { makeDoc, type NatsServers, startFrontend, startNats, stopFrontend } from './nats-helpers.js';

const streams = 1_000;
const shardsPerStream = 2;

describe('cold start of a frontend over a NATS store with 1,000 streams', { timeout: 300_000 }, () => {
  let nats: NatsServers;

  before(async () => {
    nats = await startNats();
  });
  after(async () => {
    await nats?.stop();
  });

  test('the frontend serves after replaying the metadata log', async () => {
    const store = await NatsStore.open({ servers: nats.servers });
    const started = performance.now();
    await forEachLimited(
      Array.from({ length: streams }, (_, i) => i),
      16,
      async (i) => {
        assert.ok(await store.putStream(makeDoc(`cold-${String(i).padStart(4, '0')}`, shardsPerStream), 0));
      },
    );
    const createdMs = performance.now() - started;
    await store.close();

    const spawned = performance.now();
    const frontend = await startFrontend(nats.storeUrl);
    const coldMs = performance.now() - spawned;
    const client = kinesisClient(frontend.port);
    try {
      const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'cold-0999' }));
      assert.equal(summary.StreamDescriptionSummary?.OpenShardCount, shardsPerStream);
      const listed = await client.send(new ListStreamsCommand({ Limit: 100 }));
      assert.equal(listed.StreamNames?.length, 100);
      assert.equal(listed.HasMoreStreams, true);
    } finally {
      client.destroy();
      await stopFrontend(frontend.child);
    }
    console.log(
      `cold start: ${streams} streams x ${shardsPerStream} shards created in ${Math.round(createdMs)} ms; ` +
        `sluice serve --store listening ${Math.round(coldMs)} ms after spawn`,
    );
    assert.ok(coldMs < 30_000, `cold start took ${coldMs} ms`);
  });
});
