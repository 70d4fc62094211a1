import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateStreamCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { Sluice } from '../src/app.js';
import { AdminClient } from '../src/chaos/client.js';
import type { CallerView } from '../src/chaos/dependents.js';
import { classify, Recorder, type RehearsalReport, rehearse, toMarkdown } from '../src/chaos/rehearse.js';
import { intensityOf, planScenario, readScenario } from '../src/chaos/scenario.js';
import { kinesisClient, startTestServer } from './helpers.js';

const run = promisify(execFile);
const sluiceBin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

/** The example dependents (plain ESM in examples/, run as they are). */
interface Dependent<S> {
  stats: S;
  stop(): Promise<S>;
}
type ProducerStats = { written: number; failedRecords: number; longestBackoffMs: number };
type BufferStats = {
  served: number;
  mostBlockedAtOnce: number;
  longestBlockMs: number;
  failedFlushes: number;
};
const examples = {
  producer: (await import(new URL('../../examples/retrying-producer.mjs', import.meta.url).href)) as {
    startRetryingProducer(options: { endpoint: string; streamName: string }): Dependent<ProducerStats>;
  },
  buffer: (await import(new URL('../../examples/blocking-buffer.mjs', import.meta.url).href)) as {
    startBlockingBuffer(options: {
      endpoint: string;
      streamName: string;
      callers?: number;
    }): Dependent<BufferStats>;
  },
};

describe('rehearsals', () => {
  let server: Sluice;
  let client: KinesisClient;
  before(async () => {
    server = await startTestServer({ chaos: { adminPort: 0 } });
    client = kinesisClient(server.port);
    for (const name of ['orders', 'signins', 'drill']) {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 }));
    }
  });
  after(async () => {
    client.destroy();
    await server.close();
  });

  test('the built-in nov-2020 scenario tells a dependent that backs off from one that blocks its callers', async () => {
    server.chaos.dependents.reset();
    const endpoint = `http://127.0.0.1:${server.port}`;
    const producer = examples.producer.startRetryingProducer({ endpoint, streamName: 'orders' });
    const buffer = examples.buffer.startBlockingBuffer({ endpoint, streamName: 'signins', callers: 4 });
    let report: RehearsalReport;
    const lines: string[] = [];
    try {
      report = await rehearse({
        admin: new AdminClient(`http://127.0.0.1:${server.adminPort}`),
        scenario: readScenario('nov-2020'),
        durationMs: 16_000,
        baselineMs: 3_000,
        observeMs: 3_000,
        log: (line) => lines.push(line),
      });
    } finally {
      await producer.stop();
      await buffer.stop();
    }
    assert.deepEqual(lines.slice(2, 5), [
      'phase: errors creep up',
      'phase: routing fails',
      'phase: capacity returns',
    ]);
    assert.equal(report.scenario.name, 'nov-2020');
    assert.ok(report.timeline.heavyMs > 2_000, `heavy failure for ${report.timeline.heavyMs} ms`);
    const byCaller = new Map(report.dependents.map((d) => [d.caller, d]));
    const retrying = byCaller.get('AKIDRETRYINGPRODUCER retrying-producer');
    const blocking = byCaller.get('AKIDBLOCKINGBUFFER blocking-buffer');
    assert.ok(retrying && blocking, JSON.stringify([...byCaller.keys()]));
    const summary = (d: typeof retrying) =>
      `${report.notes.join('; ')} ${d.caller}: ${d.behaviour} ratio ${d.loadRatio} waits ${d.waitAfterOkMs}/${d.waitAfterErrorMs} (${d.waitFactor}x) heavy ${JSON.stringify(d.heavy)} before ${JSON.stringify(d.before)}`;

    assert.deepEqual(retrying.streams, ['orders (writer)']);
    assert.equal(retrying.behaviour, 'backed-off', summary(retrying));
    assert.ok(retrying.retried && retrying.backedOff && !retrying.amplified, summary(retrying));
    assert.ok((retrying.waitFactor ?? 0) >= 2, summary(retrying));
    assert.ok(retrying.heavy.errorRatio > 0.8, summary(retrying));
    assert.ok(
      retrying.recovered && (retrying.recoveryMs ?? Number.POSITIVE_INFINITY) < 3_000,
      summary(retrying),
    );

    assert.deepEqual(blocking.streams, ['signins (writer)']);
    assert.equal(blocking.behaviour, 'amplified', summary(blocking));
    assert.ok(blocking.retried && !blocking.backedOff && blocking.amplified, summary(blocking));
    assert.ok((blocking.waitFactor ?? 1) <= 0.5, summary(blocking));
    assert.ok(blocking.recovered, summary(blocking));
    // What the server cannot see, the example reports itself: every handler was blocked.
    assert.equal(buffer.stats.mostBlockedAtOnce, 4);
    assert.ok(buffer.stats.longestBlockMs > 0, 'its handlers waited for room');

    const markdown = toMarkdown(report);
    assert.match(markdown, /^# Rehearsal: nov-2020 \(Kinesis in us-east-1, 25 November 2020\)/);
    assert.match(
      markdown,
      /\| AKIDRETRYINGPRODUCER retrying-producer \| orders \(writer\) \|.*\| yes \| [^|]+ \| yes \|.*\*\*backed-off\*\* \|/,
    );
    assert.match(
      markdown,
      /\| AKIDBLOCKINGBUFFER blocking-buffer \| signins \(writer\) \|.*\| yes \| [^|]+ \| no \|.*\*\*amplified\*\* \|/,
    );
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'the JSON report is plain data');
    assert.equal(server.chaos.faults.size, 0, 'every scenario rule expired');
  });

  test('classification from what the server saw: gave up, did not recover, stopped calling, unaffected', () => {
    const recorder = new Recorder();
    const view = (id: string, requests: number, errors: number, okAfterMarkMs?: number): CallerView => ({
      id,
      product: id,
      requests,
      errors,
      dropped: 0,
      injected: errors,
      records: requests - errors,
      failedRecords: 0,
      cuts: 0,
      firstSeenMs: 0,
      lastSeenMs: 0,
      lastOkMs: undefined,
      lastErrorMs: undefined,
      lastErrorType: undefined,
      ratePerSec: 0,
      errorRatePerSec: 0,
      waitAfterOkMs: 0,
      waitsAfterOk: 0,
      waitAfterErrorMs: 0,
      waitsAfterError: 0,
      okAfterMarkMs,
    });
    // 0..10 s baseline, 10..20 s faults (failing everything), 20..30 s after; a sample per 100 ms.
    const counts = { quitter: [0, 0], stuck: [0, 0], waiter: [0, 0], calm: [0, 0] };
    for (let t = 0; t <= 30_000; t += 100) {
      const faulty = t > 10_000 && t <= 20_000;
      const step = (name: keyof typeof counts, calls: boolean, fails: boolean) => {
        if (!calls) return;
        counts[name][0] = (counts[name][0] ?? 0) + 1;
        if (fails) counts[name][1] = (counts[name][1] ?? 0) + 1;
      };
      step('quitter', t <= 11_000, faulty); // stops one second into the faults, never back
      step('stuck', true, t > 10_000); // keeps calling, never succeeds again
      step('waiter', t <= 10_500 || t > 20_000, faulty); // stops calling while failing, back after
      step('calm', t % 1_000 === 0, false); // its stream is not affected
      recorder.add(t, [
        view('quitter', counts.quitter[0] ?? 0, counts.quitter[1] ?? 0),
        view('stuck', counts.stuck[0] ?? 0, counts.stuck[1] ?? 0),
        view('waiter', counts.waiter[0] ?? 0, counts.waiter[1] ?? 0, t > 20_000 ? 20_100 : undefined),
        view('calm', counts.calm[0] ?? 0, 0, t > 20_000 ? 21_000 : undefined),
      ]);
    }
    const plan = planScenario({
      name: 'x',
      rules: [{ start: '10s', duration: '10s', effect: { type: 'reset' } }],
    });
    const reports = classify(recorder, {
      scenarioStartMs: 0,
      faultStartMs: 10_000,
      faultEndMs: 20_000,
      endMs: 30_000,
      intensity: intensityOf(plan),
    });
    const behaviour = Object.fromEntries(reports.map((r) => [r.caller, r.behaviour]));
    assert.deepEqual(behaviour, {
      calm: 'unaffected',
      quitter: 'gave-up',
      stuck: 'did-not-recover',
      waiter: 'stopped-calling',
    });
    const waiter = reports.find((r) => r.caller === 'waiter');
    assert.equal(waiter?.recoveryMs, 100);
    assert.ok((waiter?.longestSilenceMs ?? 0) >= 9_000);
    assert.equal(reports.find((r) => r.caller === 'quitter')?.gaveUp, true);
  });

  test('sluice rehearse runs a scenario file against a running server and writes markdown and JSON', async () => {
    server.chaos.dependents.reset();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-rehearse-'));
    const scenarioFile = join(dir, 'drill.json');
    writeFileSync(
      scenarioFile,
      JSON.stringify({
        name: 'drill',
        phases: [{ name: 'outage', start: '0s', end: '2s' }],
        rules: [{ streams: ['drill'], start: '0s', duration: '2s', effect: { type: 'routing-unavailable' } }],
      }),
    );
    const producer = examples.producer.startRetryingProducer({
      endpoint: `http://127.0.0.1:${server.port}`,
      streamName: 'drill',
    });
    let stderr: string;
    try {
      ({ stderr } = await run(process.execPath, [
        sluiceBin,
        'rehearse',
        scenarioFile,
        '--admin',
        `http://127.0.0.1:${server.adminPort}`,
        '--speed',
        '1',
        '--baseline',
        '1.5s',
        '--observe',
        '2.5s',
        '--out',
        join(dir, 'report.md'),
        '--json',
        join(dir, 'report.json'),
      ]));
    } finally {
      await producer.stop();
    }
    assert.match(stderr, /rehearsing drill at 1x/);
    assert.match(stderr, /phase: outage/);
    const markdown = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.match(markdown, /^# Rehearsal: drill/);
    assert.match(markdown, /\| outage \| \+1\.\d s \| \+3\.\d s \|/);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as RehearsalReport;
    const producerReport = report.dependents.find(
      (d) => d.caller === 'AKIDRETRYINGPRODUCER retrying-producer',
    );
    assert.ok(producerReport, markdown);
    assert.equal(producerReport.retried, true);
    assert.equal(producerReport.recovered, true);
    assert.ok(producerReport.heavy.errorRatio >= 0.8, markdown);
    assert.ok(['backed-off', 'kept-pace'].includes(producerReport.behaviour), markdown);
  });
});
