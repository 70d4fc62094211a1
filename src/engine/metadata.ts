import type { Handler, Input } from '../api/operations.js';
import { kinesis } from '../limits.js';
import { errors } from '../protocol/errors.js';
import type { StreamDoc } from '../store/store.js';
import type { Engine, StreamRef } from './engine.js';
import { messages } from './messages.js';

/**
 * Stream metadata operations: tags (the stream-addressed AddTagsToStream family and the
 * ARN-addressed TagResource family), resource policies and the retention period. Each change is a
 * compare-and-set on the stream document through `engine.modify`, which hands over the current
 * document so that state checks see what is stored. Sources for every rule and message are in
 * docs/kinesis-errors.md (section 3.11) and in the comments below.
 */

/**
 * Characters a tag key or value may hold: Unicode letters, digits, white space (the space
 * separators; tab and newline are refused), `_ . : / = + - @`, and `%`, which passes this check but
 * is then refused with its own message (kinesalite tests run against the service; the `:` came
 * with a later version of them, and the TagResource documentation lists it too).
 */
const tagCharacters = /^[\p{L}\p{N}\p{Z}_.:/=+\-@%]*$/u;

/** A consumer ARN: `arn:aws:kinesis:<region>:<account>:stream/<name>/consumer/<consumer>:<epoch>`. */
const consumerArn = /^(arn:aws[^:]*:kinesis:[^:]*:\d{12}:stream\/[^/]+)\/consumer\/(.+)$/;

function checkTagCharacters(texts: string[], change: 'add' | 'remove', name: string, account: string): void {
  if (texts.some((text) => !tagCharacters.test(text))) {
    throw errors.invalidArgument(messages.tagsInvalidCharacters);
  }
  if (texts.some((text) => text.includes('%'))) {
    throw errors.invalidArgument(messages.tagsIllegalCharacters(change, name, account));
  }
}

/** Changes to tags and policies are refused while the stream is being created or deleted. */
function refuseTransient(doc: StreamDoc, account: string): void {
  if (doc.status === 'CREATING' || doc.status === 'DELETING') {
    throw errors.resourceInUse(messages.streamNotActive(doc.name, account, doc.status));
  }
}

/** Tags as the service lists them: sorted by key (UTF-16 code units, as Java compares strings). */
function sortedTags(tags: Record<string, string>): Array<{ Key: string; Value: string }> {
  return Object.keys(tags)
    .sort()
    .map((key) => ({ Key: key, Value: tags[key] ?? '' }));
}

/**
 * The stream a ResourceARN names. Consumer ARNs are valid resources of these operations, but
 * Sluice has no consumers yet: when the stream exists the consumer is reported missing.
 */
function resourceRef(engine: Engine, input: { ResourceARN: string; StreamId?: string }): StreamRef {
  const consumer = consumerArn.exec(input.ResourceARN);
  if (consumer) {
    const [, streamArn = '', rest = ''] = consumer;
    const doc = engine.find({ StreamARN: streamArn });
    const [, consumerName = rest, created] = /^(.*):(\d+)$/.exec(rest) ?? [];
    throw errors.resourceNotFound(
      messages.consumerNotFound(consumerName, created, doc.name, engine.config.accountId),
    );
  }
  return { StreamARN: input.ResourceARN, StreamId: input.StreamId };
}

async function addTags(engine: Engine, ref: StreamRef, tags: Record<string, string>) {
  const account = engine.config.accountId;
  const found = engine.find(ref);
  checkTagCharacters([...Object.keys(tags), ...Object.values(tags)], 'add', found.name, account);
  await engine.modify(ref, (doc) => {
    refuseTransient(doc, account);
    const merged = { ...doc.tags, ...tags };
    if (Object.keys(merged).length > kinesis.streamMaxTags) {
      throw errors.invalidArgument(messages.tooManyStreamTags(doc.name, account));
    }
    return { ...doc, tags: merged };
  });
  return {};
}

async function removeTags(engine: Engine, ref: StreamRef, keys: string[]) {
  const account = engine.config.accountId;
  const found = engine.find(ref);
  checkTagCharacters(keys, 'remove', found.name, account);
  const removed = new Set(keys);
  await engine.modify(ref, (doc) => {
    refuseTransient(doc, account);
    // A key the stream does not have is ignored (RemoveTagsFromStream documentation).
    const tags = Object.fromEntries(Object.entries(doc.tags).filter(([key]) => !removed.has(key)));
    return { ...doc, tags };
  });
  return {};
}

function listTagsForStream(
  engine: Engine,
  input: StreamRef & { ExclusiveStartTagKey?: string; Limit?: number },
) {
  const doc = engine.find(input);
  const start = input.ExclusiveStartTagKey;
  const all = sortedTags(doc.tags).filter((tag) => start === undefined || tag.Key > start);
  const page = all.slice(0, input.Limit ?? kinesis.listTagsForStreamDefaultLimit);
  return { Tags: page, HasMoreTags: all.length > page.length };
}

// ---- resource policies ------------------------------------------------------------------------

const policyVersions = ['2012-10-17', '2008-10-17'];
const policyFields = new Set(['Version', 'Id', 'Statement']);
const statementFields = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);
const principalTypes = new Set(['AWS', 'Service', 'Federated', 'CanonicalUser']);
/** An AWS principal: everyone, an account id, or an IAM/STS ARN of an account. */
const awsPrincipal = /^(\*|\d{12}|arn:aws[a-z-]*:(iam|sts)::(\d{12}|aws):.+)$/;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isStringOrStrings = (value: unknown): value is string | string[] =>
  typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string'));
const asList = (value: string | string[]): string[] => (typeof value === 'string' ? [value] : value);
const isConditionValue = (value: unknown) => ['string', 'number', 'boolean'].includes(typeof value);

/** Whether a statement has the shape the IAM policy grammar describes. */
function statementSyntaxOk(statement: unknown): statement is Json {
  if (!isObject(statement)) return false;
  if (Object.keys(statement).some((key) => !statementFields.has(key))) return false;
  for (const [a, b] of [
    ['Action', 'NotAction'],
    ['Resource', 'NotResource'],
    ['Principal', 'NotPrincipal'],
  ] as const) {
    if (a in statement && b in statement) return false;
  }
  if (statement.Effect !== 'Allow' && statement.Effect !== 'Deny') return false;
  for (const key of ['Action', 'NotAction', 'Resource', 'NotResource']) {
    if (key in statement && !isStringOrStrings(statement[key])) return false;
  }
  if ('Sid' in statement && typeof statement.Sid !== 'string') return false;
  if ('Condition' in statement) {
    const condition = statement.Condition;
    if (!isObject(condition)) return false;
    for (const operator of Object.values(condition)) {
      if (!isObject(operator)) return false;
      for (const value of Object.values(operator)) {
        if (!(isConditionValue(value) || (Array.isArray(value) && value.every(isConditionValue))))
          return false;
      }
    }
  }
  return true;
}

function principalOk(principal: unknown): boolean {
  if (principal === '*') return true;
  if (!isObject(principal) || Object.keys(principal).length === 0) return false;
  for (const [type, value] of Object.entries(principal)) {
    if (!principalTypes.has(type) || !isStringOrStrings(value)) return false;
    const ids = asList(value);
    if (ids.length === 0 || ids.some((id) => id === '')) return false;
    if (type === 'AWS' && ids.some((id) => !awsPrincipal.test(id))) return false;
  }
  return true;
}

/**
 * Checks a resource policy against the IAM JSON policy grammar (Version, Id, Statement; each
 * statement with Effect, Principal or NotPrincipal, Action or NotAction, Resource or NotResource,
 * optional Sid and Condition). The messages are IAM's MalformedPolicyDocument wording; the
 * service's own wording for PutResourcePolicy was not found.
 */
function validatePolicy(text: string): void {
  const invalid = (message: string) => errors.invalidArgument(message);
  const size = Buffer.byteLength(text, 'utf8');
  if (size > kinesis.resourcePolicyMaxBytes) {
    throw invalid(messages.policyTooLarge(size, kinesis.resourcePolicyMaxBytes));
  }
  let policy: unknown;
  try {
    policy = JSON.parse(text);
  } catch {
    throw invalid(messages.policyInvalidJson);
  }
  if (!isObject(policy) || Object.keys(policy).some((key) => !policyFields.has(key))) {
    throw invalid(messages.policySyntax);
  }
  if ('Version' in policy && !policyVersions.includes(policy.Version as string)) {
    throw invalid(messages.policySyntax);
  }
  if ('Id' in policy && typeof policy.Id !== 'string') throw invalid(messages.policySyntax);
  const block = policy.Statement;
  const statements: unknown[] = Array.isArray(block) ? block : isObject(block) ? [block] : [];
  if (statements.length === 0 || !statements.every(statementSyntaxOk)) throw invalid(messages.policySyntax);
  const list = statements as Json[];
  if (policy.Version === undefined) throw invalid(messages.policyVersion);
  const sids = list.map((s) => s.Sid).filter((sid): sid is string => typeof sid === 'string' && sid !== '');
  if (new Set(sids).size !== sids.length) throw invalid(messages.policySidsNotUnique);
  for (const statement of list) {
    const actions = (statement.Action ?? statement.NotAction) as string | string[] | undefined;
    if (actions === undefined || asList(actions).length === 0) throw invalid(messages.policyNoActions);
    const resources = (statement.Resource ?? statement.NotResource) as string | string[] | undefined;
    if (resources === undefined || asList(resources).length === 0) throw invalid(messages.policyNoResources);
    for (const resource of asList(resources)) {
      if (resource !== '*' && !resource.startsWith('arn:'))
        throw invalid(messages.policyResourceFormat(resource));
    }
    const principal = statement.Principal ?? statement.NotPrincipal;
    if (principal === undefined) throw invalid(messages.policyNoPrincipal);
    if (!principalOk(principal)) throw invalid(messages.policyInvalidPrincipal);
    for (const action of asList(actions)) {
      const parts = action.split(':');
      if (parts.length === 1 && action !== '*') throw invalid(messages.policyActionVendor);
      if (parts.length > 2) throw invalid(messages.policyActionColons);
    }
  }
}

async function putResourcePolicy(
  engine: Engine,
  input: { ResourceARN: string; StreamId?: string; Policy: string },
) {
  const account = engine.config.accountId;
  const ref = resourceRef(engine, input);
  engine.find(ref);
  validatePolicy(input.Policy);
  await engine.modify(ref, (doc) => {
    refuseTransient(doc, account);
    return { ...doc, policy: input.Policy };
  });
  return {};
}

function getResourcePolicy(engine: Engine, input: { ResourceARN: string; StreamId?: string }) {
  const doc = engine.find(resourceRef(engine, input));
  // The output requires Policy; a stream without one answers an empty document.
  return { Policy: doc.policy ?? '{}' };
}

async function deleteResourcePolicy(engine: Engine, input: { ResourceARN: string; StreamId?: string }) {
  const account = engine.config.accountId;
  const ref = resourceRef(engine, input);
  await engine.modify(ref, (doc) => {
    refuseTransient(doc, account);
    if (doc.policy === undefined) {
      throw errors.resourceNotFound(messages.noResourcePolicy(input.ResourceARN));
    }
    const { policy: _removed, ...rest } = doc;
    return rest;
  });
  return {};
}

// ---- retention --------------------------------------------------------------------------------

/**
 * Increase/DecreaseStreamRetentionPeriod. As in kinesalite (whose tests ran against the service):
 * the stream is looked up first, then the bounds, then the direction; asking for the current value
 * succeeds. Reads and trimming use Engine.trimHorizon (retention, and the floor set on increase).
 */
async function changeRetention(
  engine: Engine,
  input: StreamRef & { RetentionPeriodHours: number },
  direction: 'increase' | 'decrease',
) {
  const account = engine.config.accountId;
  const hours = input.RetentionPeriodHours;
  engine.find(input);
  if (hours < kinesis.retentionMinHours) {
    throw errors.invalidArgument(messages.retentionTooShort(hours, kinesis.retentionMinHours));
  }
  if (hours > kinesis.retentionMaxHours) {
    throw errors.invalidArgument(messages.retentionTooLong(hours, kinesis.retentionMaxHours));
  }
  await engine.modify(input, (doc) => {
    if (doc.status !== 'ACTIVE') {
      throw errors.resourceInUse(messages.streamNotActive(doc.name, account, doc.status));
    }
    if (direction === 'increase' && hours < doc.retentionHours) {
      throw errors.invalidArgument(messages.retentionBelowCurrent(hours, doc.name, doc.retentionHours));
    }
    if (direction === 'decrease' && hours > doc.retentionHours) {
      throw errors.invalidArgument(messages.retentionAboveCurrent(hours, doc.name, doc.retentionHours));
    }
    // Records already past the old period stay gone after an increase.
    const floor = direction === 'increase' ? engine.trimHorizon(doc) : doc.retentionFloorMs;
    return { ...doc, retentionHours: hours, retentionFloorMs: floor };
  });
  return {};
}

export const metadataOperations: Record<string, Handler> = {
  AddTagsToStream: async (e, i: Input) => addTags(e, i, i.Tags),
  RemoveTagsFromStream: async (e, i: Input) => removeTags(e, i, i.TagKeys),
  ListTagsForStream: async (e, i: Input) => listTagsForStream(e, i),
  TagResource: async (e, i: Input) => addTags(e, resourceRef(e, i), i.Tags),
  UntagResource: async (e, i: Input) => removeTags(e, resourceRef(e, i), i.TagKeys),
  ListTagsForResource: async (e, i: Input) => ({ Tags: sortedTags(e.find(resourceRef(e, i)).tags) }),
  PutResourcePolicy: async (e, i: Input) => putResourcePolicy(e, i),
  GetResourcePolicy: async (e, i: Input) => getResourcePolicy(e, i),
  DeleteResourcePolicy: async (e, i: Input) => deleteResourcePolicy(e, i),
  IncreaseStreamRetentionPeriod: async (e, i: Input) => changeRetention(e, i, 'increase'),
  DecreaseStreamRetentionPeriod: async (e, i: Input) => changeRetention(e, i, 'decrease'),
};
