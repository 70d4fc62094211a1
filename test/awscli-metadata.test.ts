/**
 * Scenario: tagging a stream with Debian's AWS CLI v2 (`/usr/bin/aws`), by stream name and by
 * resource ARN. That CLI (2.9) predates TagResource, UntagResource and ListTagsForResource, so the
 * test gives it the current Kinesis model the way the CLI documents (`aws configure add-model`
 * writes the same file): under `~/.aws/models`, with HOME a temporary folder. The model comes from
 * the machine's python3 botocore, as for scripts/gen-model.mjs and the boto3 test.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Sluice } from '../src/app.js';
import { awsCli } from './awscli-helpers.js';
import { startTestServer } from './helpers.js';

const ACCOUNT = '000000000000';
const CLI_TIMEOUT_MS = 30_000;
const stream = `cli-tags-${process.pid}`;
const arn = `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${stream}`;

let server: Sluice;
let workDir: string;

/** The Kinesis service model of the machine's botocore, as JSON text. */
function botocoreKinesisModel(): Promise<string> {
  const script = [
    'import botocore, gzip, os, sys',
    "d = os.path.join(os.path.dirname(botocore.__file__), 'data', 'kinesis', '2013-12-02')",
    "p = os.path.join(d, 'service-2.json.gz')",
    "data = gzip.open(p).read() if os.path.exists(p) else open(os.path.join(d, 'service-2.json'), 'rb').read()",
    'sys.stdout.buffer.write(data)',
  ].join('\n');
  return new Promise((resolve, reject) => {
    execFile(
      'python3',
      ['-c', script],
      { timeout: CLI_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

const { aws, awsJson, awsQuiet } = awsCli({ port: () => server.port, home: () => workDir });

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'sluice-awscli-meta-'));
  const model = await botocoreKinesisModel();
  assert.ok(
    (JSON.parse(model) as { operations: Record<string, unknown> }).operations.TagResource,
    "the machine's botocore has the Kinesis TagResource operation",
  );
  const models = join(workDir, '.aws', 'models', 'kinesis', '2013-12-02');
  mkdirSync(models, { recursive: true });
  writeFileSync(join(models, 'service-2.json'), model);
  server = await startTestServer();
});

after(async () => {
  await server?.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe('AWS CLI v2: tagging a stream', { timeout: 120_000 }, () => {
  it('adds, lists and removes tags by stream name and by resource ARN', async () => {
    await awsQuiet(['create-stream', '--stream-name', stream, '--shard-count', '1']);

    await awsQuiet(['add-tags-to-stream', '--stream-name', stream, '--tags', 'team=data,env=test']);
    assert.deepEqual(await awsJson(['list-tags-for-stream', '--stream-name', stream]), {
      Tags: [
        { Key: 'env', Value: 'test' },
        { Key: 'team', Value: 'data' },
      ],
      HasMoreTags: false,
    });
    await awsQuiet(['remove-tags-from-stream', '--stream-name', stream, '--tag-keys', 'env']);

    await awsQuiet(['tag-resource', '--resource-arn', arn, '--tags', 'owner=ops']);
    assert.deepEqual(await awsJson(['list-tags-for-resource', '--resource-arn', arn]), {
      Tags: [
        { Key: 'owner', Value: 'ops' },
        { Key: 'team', Value: 'data' },
      ],
    });
    await awsQuiet(['untag-resource', '--resource-arn', arn, '--tag-keys', 'team', 'owner']);

    const [listed, refused] = await Promise.all([
      awsJson(['list-tags-for-stream', '--stream-arn', arn]),
      aws(['add-tags-to-stream', '--stream-name', stream, '--tags', '{"cost%centre": "1"}']),
    ]);
    assert.deepEqual(listed, { Tags: [], HasMoreTags: false });
    assert.equal(refused.code, 254, refused.stderr);
    assert.equal(refused.stdout, '');
    assert.equal(
      refused.stderr.trim(),
      'An error occurred (InvalidArgumentException) when calling the AddTagsToStream operation (reached max retries: 0): ' +
        `Failed to add tags to stream ${stream} under account ${ACCOUNT} because some tags contained illegal characters. ` +
        "The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'.",
    );
  });
});
