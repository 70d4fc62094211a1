import type { Handler, Input } from '../api/operations.js';
import { engine as engineLimits, kinesis } from '../limits.js';
import { errors, KinesisError } from '../protocol/errors.js';
import type { StreamDoc } from '../store/store.js';
import type { Engine, StreamRef } from './engine.js';
import { messages } from './messages.js';

/**
 * Stream and account settings: encryption, enhanced monitoring, limits, account settings, the
 * maximum record size and warm throughput. Where each rule and message comes from:
 *
 * - Shapes, members and error names: botocore's model (kinesis 2013-12-02) and
 *   @aws-sdk/client-kinesis. Operation texts (UPDATING, "enables or updates", the commitment's
 *   24 hours and pending disable, warm throughput only for ON_DEMAND streams in accounts with the
 *   commitment, at most 10 GiBps): the model's documentation, which is the API reference's.
 * - Not ACTIVE: `Stream <name> under account <acct> not ACTIVE, instead in state <STATE>`, the
 *   service's ResourceInUseException for control changes (kinesalite tests run against AWS).
 * - Encryption, enhanced monitoring and warm throughput make the stream UPDATING (API reference;
 *   for enhanced monitoring, the Terraform AWS provider waits for the stream to be updated after
 *   EnableEnhancedMonitoring). UpdateMaxRecordSize is not documented as asynchronous: it needs an
 *   ACTIVE stream (ResourceInUseException is among its errors) and leaves it ACTIVE.
 * - KeyId forms: the KeyId documentation (key id, key ARN, alias name, alias ARN, alias/aws/kinesis;
 *   multi-Region key ids `mrk-…` from KMS). A malformed one is KMSNotFoundException with KMS's
 *   `Invalid keyId <id>` (real KMS wording, as S3 relays it: aws/aws-cli#4507). An ARN of another
 *   region names no key here (KMS keys are regional): KMS's `Key '<arn>' does not exist`
 *   (boto/botocore#2107) or `Alias <arn> is not found.`.
 * - Metric order: the AWS CLI's enable-/disable-enhanced-monitoring examples with ALL.
 * - Sluice's own wording, unverified against the service: EncryptionType other than KMS, stopping
 *   a stream that is not encrypted or naming another key, and the three warm throughput refusals.
 */

// ---- shared --------------------------------------------------------------------------------

/** Refuse a change to a stream that is not ACTIVE, with the service's message. */
function requireActive(engine: Engine, doc: StreamDoc): void {
  if (doc.status !== 'ACTIVE') {
    throw errors.resourceInUse(messages.streamNotActive(doc.name, engine.config.accountId, doc.status));
  }
}

/**
 * The status fields of a document whose change is asynchronous in the service: UPDATING for the
 * configured time (the engine ends it), or nothing when transitions are instant (time 0).
 */
function updating(engine: Engine): Pick<StreamDoc, 'status' | 'statusUntilMs'> | Record<string, never> {
  const ms = engine.config.updateStreamMs;
  return ms > 0 ? { status: 'UPDATING', statusUntilMs: Date.now() + ms } : {};
}

// ---- encryption ----------------------------------------------------------------------------

/** KMS key ids: a key id (UUID, or `mrk-` and 32 hex digits for a multi-Region key). */
const keyIdPart = '(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})';
/** KMS alias names (CreateAlias: `alias/` then letters, digits, `/`, `_`, `-`; at most 256). */
const aliasPart = 'alias/[a-zA-Z0-9/_-]{1,250}';
const bareKeyId = new RegExp(`^(?:${keyIdPart}|${aliasPart})$`);
const kmsArn = new RegExp(`^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\\d{12}):(key/${keyIdPart}|${aliasPart})$`);

/**
 * Check a KeyId the way the service's call to KMS would: a key id, a key ARN, an alias name
 * (`alias/aws/kinesis` included) or an alias ARN. Any of them names key material here (the
 * KeyRing creates it on first use), except an ARN of another region (KMS keys are regional).
 */
function checkKeyId(engine: Engine, keyId: string): void {
  if (bareKeyId.test(keyId)) return;
  const arn = kmsArn.exec(keyId);
  if (!arn) throw new KinesisError('KMSNotFoundException', messages.kmsInvalidKeyId(keyId));
  if (arn[1] !== engine.config.region) {
    const message = arn[3]?.startsWith('alias/')
      ? messages.kmsAliasNotFound(keyId)
      : messages.kmsKeyNotFound(keyId);
    throw new KinesisError('KMSNotFoundException', message);
  }
}

function checkEncryptionType(type: string, operation: string): void {
  if (type !== 'KMS') throw errors.invalidArgument(messages.encryptionTypeNotKms(type, operation));
}

async function startStreamEncryption(
  engine: Engine,
  input: StreamRef & { EncryptionType: string; KeyId: string },
) {
  checkEncryptionType(input.EncryptionType, 'StartStreamEncryption');
  requireActive(engine, engine.find(input));
  checkKeyId(engine, input.KeyId);
  await engine.modify(input, (doc) => {
    requireActive(engine, doc);
    return { ...doc, encryptionType: 'KMS', keyId: input.KeyId, ...updating(engine) };
  });
  return {};
}

async function stopStreamEncryption(
  engine: Engine,
  input: StreamRef & { EncryptionType: string; KeyId: string },
) {
  checkEncryptionType(input.EncryptionType, 'StopStreamEncryption');
  const account = engine.config.accountId;
  await engine.modify(input, (doc) => {
    requireActive(engine, doc);
    if (doc.encryptionType !== 'KMS' || doc.keyId === undefined) {
      throw errors.invalidArgument(messages.streamNotEncrypted(doc.name, account));
    }
    if (doc.keyId !== input.KeyId) {
      throw errors.invalidArgument(messages.encryptionKeyMismatch(input.KeyId, doc.name, account));
    }
    const { keyId: _stopped, ...rest } = doc;
    return { ...rest, encryptionType: 'NONE', ...updating(engine) };
  });
  return {};
}

// ---- enhanced monitoring -------------------------------------------------------------------

/**
 * The shard-level metrics in the order the service prints them (the AWS CLI examples of
 * enable-/disable-enhanced-monitoring with ALL): the iteration order of a Java HashSet of the names.
 */
const metricOrder = [
  'IncomingBytes',
  'OutgoingRecords',
  'IteratorAgeMilliseconds',
  'IncomingRecords',
  'ReadProvisionedThroughputExceeded',
  'WriteProvisionedThroughputExceeded',
  'OutgoingBytes',
];

function metricSet(names: readonly string[]): Set<string> {
  return new Set(names.includes('ALL') ? metricOrder : names);
}

function ordered(set: Set<string>): string[] {
  return metricOrder.filter((name) => set.has(name));
}

async function changeMonitoring(
  engine: Engine,
  input: StreamRef & { ShardLevelMetrics: string[] },
  enable: boolean,
) {
  const asked = metricSet(input.ShardLevelMetrics);
  let current: string[] = [];
  let desired: string[] = [];
  const stored = await engine.modify(input, (doc) => {
    requireActive(engine, doc);
    const before = new Set(doc.shardLevelMetrics);
    const after = new Set(before);
    for (const name of asked) {
      if (enable) after.add(name);
      else after.delete(name);
    }
    current = ordered(before);
    desired = ordered(after);
    const changed = desired.length !== current.length || desired.some((name, i) => name !== current[i]);
    return changed ? { ...doc, shardLevelMetrics: desired, ...updating(engine) } : doc;
  });
  return {
    StreamName: stored.name,
    CurrentShardLevelMetrics: current,
    DesiredShardLevelMetrics: desired,
    StreamARN: engine.arnOf(stored.name),
  };
}

// ---- limits --------------------------------------------------------------------------------

async function describeLimits(engine: Engine) {
  let onDemand = 0;
  for (const doc of engine.streams()) if (doc.mode === 'ON_DEMAND') onDemand++;
  return {
    ShardLimit: engine.config.shardLimit,
    OpenShardCount: engine.openShardCount(),
    OnDemandStreamCount: onDemand,
    OnDemandStreamCountLimit: kinesis.onDemandStreamCountLimit,
  };
}

// ---- account settings ----------------------------------------------------------------------

type CommitmentStatus = 'ENABLED' | 'DISABLED' | 'ENABLED_UNTIL_EARLIEST_ALLOWED_END';

/** The minimum throughput billing commitment as the store keeps it. */
export interface Commitment {
  status: CommitmentStatus;
  startedAtMs?: number;
  endedAtMs?: number;
  earliestAllowedEndAtMs?: number;
}

/** The account setting's name in the store. */
export const commitmentSetting = 'account/minimum-throughput-billing-commitment';

/** The commitment in force at `now`: a disable scheduled for the earliest allowed end has
 * happened once that time has passed. */
function inForce(stored: Commitment | undefined, now: number): Commitment {
  if (!stored) return { status: 'DISABLED' };
  const end = stored.earliestAllowedEndAtMs;
  if (stored.status === 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' && end !== undefined && now >= end) {
    return { status: 'DISABLED', startedAtMs: stored.startedAtMs, endedAtMs: end };
  }
  return stored;
}

/** The commitment after asking for `wanted` at `now` (MinimumThroughputBillingCommitmentInput). */
function requested(current: Commitment, wanted: 'ENABLED' | 'DISABLED', now: number): Commitment {
  if (wanted === 'ENABLED') {
    if (current.status === 'ENABLED') return current;
    if (current.status === 'ENABLED_UNTIL_EARLIEST_ALLOWED_END') {
      // Enabling again before the earliest allowed end cancels the pending disable.
      return { ...current, status: 'ENABLED' };
    }
    return {
      status: 'ENABLED',
      startedAtMs: now,
      earliestAllowedEndAtMs: now + kinesis.billingCommitmentMinMs,
    };
  }
  if (current.status === 'DISABLED') return current;
  const end = current.earliestAllowedEndAtMs;
  if (end !== undefined && now < end) return { ...current, status: 'ENABLED_UNTIL_EARLIEST_ALLOWED_END' };
  return { status: 'DISABLED', startedAtMs: current.startedAtMs, endedAtMs: now };
}

async function commitmentNow(engine: Engine): Promise<Commitment> {
  const setting = await engine.store.getSetting(commitmentSetting);
  return inForce(setting?.value as Commitment | undefined, Date.now());
}

function commitmentOutput(c: Commitment) {
  const at = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));
  return {
    MinimumThroughputBillingCommitment: {
      Status: c.status,
      StartedAt: at(c.startedAtMs),
      EndedAt: at(c.endedAtMs),
      EarliestAllowedEndAt: at(c.earliestAllowedEndAtMs),
    },
  };
}

async function describeAccountSettings(engine: Engine) {
  return commitmentOutput(await commitmentNow(engine));
}

async function updateAccountSettings(
  engine: Engine,
  input: { MinimumThroughputBillingCommitment: { Status: 'ENABLED' | 'DISABLED' } },
) {
  for (let attempt = 0; attempt < engineLimits.casAttempts; attempt++) {
    const setting = await engine.store.getSetting(commitmentSetting);
    const now = Date.now();
    const next = requested(
      inForce(setting?.value as Commitment | undefined, now),
      input.MinimumThroughputBillingCommitment.Status,
      now,
    );
    if (await engine.store.putSetting(commitmentSetting, next, setting?.version ?? 0)) {
      return commitmentOutput(next);
    }
  }
  throw errors.internal();
}

// ---- record size and warm throughput -------------------------------------------------------

async function updateMaxRecordSize(engine: Engine, input: StreamRef & { MaxRecordSizeInKiB: number }) {
  await engine.modify(input, (doc) => {
    requireActive(engine, doc);
    return { ...doc, maxRecordSizeKiB: input.MaxRecordSizeInKiB };
  });
  return {};
}

async function updateStreamWarmThroughput(
  engine: Engine,
  input: StreamRef & { WarmThroughputMiBps: number },
) {
  const account = engine.config.accountId;
  const target = input.WarmThroughputMiBps;
  const check = (doc: StreamDoc) => {
    requireActive(engine, doc);
    if (doc.mode !== 'ON_DEMAND') {
      throw new KinesisError('ValidationException', messages.warmThroughputNeedsOnDemand(doc.name, account));
    }
  };
  check(engine.find(input));
  const commitment = await commitmentNow(engine);
  if (commitment.status === 'DISABLED') {
    throw errors.invalidArgument(messages.warmThroughputNeedsCommitment(account));
  }
  if (target > kinesis.warmThroughputMaxMiBps) {
    throw errors.limitExceeded(messages.warmThroughputTooHigh(target, kinesis.warmThroughputMaxMiBps));
  }
  let current: number = kinesis.onDemandDefaultWriteMiBps;
  const stored = await engine.modify(input, (doc) => {
    check(doc);
    current = doc.warmThroughputMiBps ?? kinesis.onDemandDefaultWriteMiBps;
    return { ...doc, warmThroughputMiBps: target, ...updating(engine) };
  });
  return {
    StreamARN: engine.arnOf(stored.name),
    StreamName: stored.name,
    WarmThroughput: { TargetMiBps: target, CurrentMiBps: current },
  };
}

// ---- table ---------------------------------------------------------------------------------

export const settingsOperations: Record<string, Handler> = {
  StartStreamEncryption: (e, i: Input) => startStreamEncryption(e, i),
  StopStreamEncryption: (e, i: Input) => stopStreamEncryption(e, i),
  EnableEnhancedMonitoring: (e, i: Input) => changeMonitoring(e, i, true),
  DisableEnhancedMonitoring: (e, i: Input) => changeMonitoring(e, i, false),
  DescribeLimits: (e) => describeLimits(e),
  DescribeAccountSettings: (e) => describeAccountSettings(e),
  UpdateAccountSettings: (e, i: Input) => updateAccountSettings(e, i),
  UpdateMaxRecordSize: (e, i: Input) => updateMaxRecordSize(e, i),
  UpdateStreamWarmThroughput: (e, i: Input) => updateStreamWarmThroughput(e, i),
};
