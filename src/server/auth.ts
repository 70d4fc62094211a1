import { readFileSync } from 'node:fs';
import type { Engine, StreamRef } from '../engine/engine.js';
import { openIterator } from '../engine/tokens.js';
import { kinesis } from '../limits.js';
import { KinesisError } from '../protocol/errors.js';
import { type SigningKey, verifySigV4 } from '../protocol/sigv4.js';
import type { StreamDoc } from '../store/store.js';
import type { RequestContext } from './handler.js';

/**
 * Opt-in authentication and authorization (`sluice serve --auth`): every request's SigV4 signature
 * is verified against the configured access keys, then the resource policy stored on the stream the
 * request names is enforced for the key's principal.
 *
 * Principals: each key acts as one IAM principal (its `principal`, by default the account root,
 * `arn:aws:iam::<account>:root`). There are no identity policies, so a principal of the server's
 * account may do everything a resource policy does not explicitly deny; a principal of another
 * account may act on a stream only where the stream's policy allows it (as cross-account access
 * needs on the service), and never on account-level operations or resource policies.
 */

/** One access key as written in a credentials file or given to `startSluice`. */
export interface CredentialEntry {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials: requests must then carry this X-Amz-Security-Token. */
  sessionToken?: string;
  /** The IAM principal the key acts as: an IAM or STS ARN, or a 12-digit account id (its root).
   * Default: the root of the server's account. */
  principal?: string;
}

export interface AuthOptions {
  /** Keys given directly (embedding, tests). */
  credentials?: CredentialEntry[];
  /** A JSON file holding an array of CredentialEntry (`--credentials-file`). */
  credentialsFile?: string;
  /** Where SLUICE_ACCESS_KEY_ID and SLUICE_SECRET_ACCESS_KEY are read from (one more key). */
  env?: Record<string, string | undefined>;
  /** The clock signatures are checked against (tests). */
  now?: () => number;
}

/** A configured key with its principal resolved. */
export interface AccessKey extends SigningKey {
  /** Principal ARN (`arn:aws:iam::<account>:root` for an account). */
  principal: string;
  /** The principal's 12-digit account. */
  account: string;
}

const principalArn = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):\S+$/;

/** The keys of the options (inline, file, environment); throws with a message on any problem. */
export function loadAccessKeys(options: AuthOptions, accountId: string): AccessKey[] {
  const entries: { entry: unknown; where: string }[] = [];
  (options.credentials ?? []).forEach((entry, i) => {
    entries.push({ entry, where: `credentials[${i}]` });
  });
  if (options.credentialsFile !== undefined) {
    const file = options.credentialsFile;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new Error(`cannot read credentials file ${file}: ${(error as Error).message}`);
    }
    if (!Array.isArray(parsed)) {
      throw new Error(`credentials file ${file}: expected a JSON array of {accessKeyId, secretAccessKey}`);
    }
    parsed.forEach((entry, i) => {
      entries.push({ entry, where: `${file}[${i}]` });
    });
  }
  const envId = options.env?.SLUICE_ACCESS_KEY_ID;
  const envSecret = options.env?.SLUICE_SECRET_ACCESS_KEY;
  if ((envId === undefined) !== (envSecret === undefined)) {
    throw new Error('SLUICE_ACCESS_KEY_ID and SLUICE_SECRET_ACCESS_KEY go together');
  }
  if (envId !== undefined) {
    entries.push({ entry: { accessKeyId: envId, secretAccessKey: envSecret }, where: 'environment' });
  }
  if (entries.length === 0) {
    throw new Error(
      'authentication needs access keys: --credentials-file FILE or SLUICE_ACCESS_KEY_ID and SLUICE_SECRET_ACCESS_KEY',
    );
  }
  const keys: AccessKey[] = [];
  const seen = new Set<string>();
  for (const { entry, where } of entries) {
    const key = accessKeyOf(entry, where, accountId);
    if (seen.has(key.accessKeyId)) throw new Error(`${where}: access key ${key.accessKeyId} is given twice`);
    seen.add(key.accessKeyId);
    keys.push(key);
  }
  return keys;
}

function accessKeyOf(entry: unknown, where: string, accountId: string): AccessKey {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new Error(`${where}: expected an object {accessKeyId, secretAccessKey}`);
  }
  const { accessKeyId, secretAccessKey, sessionToken, principal } = entry as Record<string, unknown>;
  if (typeof accessKeyId !== 'string' || !/^[\x21-\x7e]+$/.test(accessKeyId) || /[/,=]/.test(accessKeyId)) {
    throw new Error(`${where}: accessKeyId must be a non-empty string without spaces, '/', ',' or '='`);
  }
  if (typeof secretAccessKey !== 'string' || secretAccessKey === '') {
    throw new Error(`${where}: secretAccessKey must be a non-empty string`);
  }
  if (sessionToken !== undefined && (typeof sessionToken !== 'string' || sessionToken === '')) {
    throw new Error(`${where}: sessionToken must be a non-empty string`);
  }
  let arn = `arn:aws:iam::${accountId}:root`;
  if (principal !== undefined) {
    if (typeof principal !== 'string' || !(/^\d{12}$/.test(principal) || principalArn.test(principal))) {
      throw new Error(`${where}: principal must be an IAM or STS ARN or a 12-digit account id`);
    }
    arn = /^\d{12}$/.test(principal) ? `arn:aws:iam::${principal}:root` : principal;
  }
  return {
    accessKeyId,
    secretAccessKey,
    ...(sessionToken === undefined ? {} : { sessionToken: sessionToken as string }),
    principal: arn,
    account: principalArn.exec(arn)?.[1] ?? accountId,
  };
}

/** The `authenticate` hook of the handler: signature, then resource policy. */
/**
 * The two hooks of `--auth`: `verifySignature` runs before input validation (as the service
 * checks the signature first) and notes the verified key on the context; `authenticate` runs
 * after validation and evaluates the resource policy of the stream the input names.
 */
export function createAuthenticator(
  engine: Engine,
  keys: AccessKey[],
  now: () => number = Date.now,
): {
  verifySignature: (context: RequestContext) => Promise<KinesisError | undefined>;
  authenticate: (context: RequestContext) => Promise<KinesisError | undefined>;
} {
  const byId = new Map(keys.map((key) => [key.accessKeyId, key]));
  return {
    verifySignature: async (context) => {
      const verified = await verifySigV4(
        {
          method: context.req.method ?? '',
          url: context.req.url ?? '/',
          rawHeaders: context.req.rawHeaders,
          body: context.body,
        },
        {
          region: engine.config.region,
          service: 'kinesis',
          nowMs: now(),
          maxSkewMs: kinesis.signatureMaxSkewMs,
          keyOf: (id) => byId.get(id),
        },
      );
      if (!verified.ok) return verified.error;
      context.principal = verified.key;
      return undefined;
    },
    authenticate: async (context) =>
      authorize(engine, context.principal as AccessKey, context.operation, context.input),
  };
}

// ---- resource policies ------------------------------------------------------------------------

/** Operations on resource policies are for principals of the owning account only (service docs). */
const policyOperations = new Set(['PutResourcePolicy', 'GetResourcePolicy', 'DeleteResourcePolicy']);

const consumerArn = /^(arn:aws[^:]*:kinesis:[^:]*:\d{12}:stream\/[^/]+)\/consumer\/.+$/;

interface Target {
  /** The ARN the action is on (stream or consumer); undefined for account-level operations. */
  arn?: string;
  /** The stream whose policy applies, when it exists here. */
  doc?: StreamDoc;
}

const deniedMessage = (key: AccessKey, action: string, arn: string | undefined, context: string) =>
  `User: ${key.principal} is not authorized to perform: ${action}${arn === undefined ? '' : ` on resource: ${arn}`}${context}`;

/**
 * Decide a verified request against the stream's resource policy:
 * 1. an applicable Deny statement refuses it (explicit deny), whoever the principal is;
 * 2. otherwise a principal of the server's account is allowed (no identity policies here);
 * 3. a principal of another account needs an applicable Allow statement, and is refused
 *    account-level operations and the resource policy operations.
 */
export function authorize(
  engine: Engine,
  key: AccessKey,
  operation: string,
  input: Record<string, unknown>,
): KinesisError | undefined {
  const action = `kinesis:${operation}`;
  const local = key.account === engine.config.accountId;
  const target = targetOf(engine, key, input, local);
  const verdict =
    target.doc?.policy !== undefined && target.arn !== undefined
      ? evaluatePolicy(target.doc.policy, key, action, target.arn)
      : 'none';
  const denied = (context: string) =>
    new KinesisError('AccessDeniedException', deniedMessage(key, action, target.arn, context));
  if (verdict === 'deny') return denied(' with an explicit deny in a resource-based policy');
  if (local) return undefined;
  if (policyOperations.has(operation)) return denied('');
  if (verdict === 'allow') return undefined;
  return denied(` because no resource-based policy allows the ${action} action`);
}

/** The resource a request acts on, and the stream whose policy governs it. */
function targetOf(engine: Engine, key: AccessKey, input: Record<string, unknown>, local: boolean): Target {
  const text = (name: string) => (typeof input[name] === 'string' ? (input[name] as string) : undefined);
  const streamId = text('StreamId');
  const lookup = (ref: StreamRef): StreamDoc | undefined => {
    try {
      return engine.find(ref);
    } catch {
      return undefined;
    }
  };
  const byArn = (arn: string): Target => {
    const stream = consumerArn.exec(arn)?.[1] ?? arn;
    return { arn, doc: lookup({ StreamARN: stream, StreamId: streamId }) };
  };
  const resourceArn = text('ResourceARN') ?? text('ConsumerARN');
  if (resourceArn !== undefined) return byArn(resourceArn);
  const streamArn = text('StreamARN');
  if (streamArn !== undefined) return byArn(streamArn);
  const streamName = text('StreamName');
  if (streamName !== undefined) {
    // A stream named without an ARN is in the caller's own account (as on the service).
    if (!local) return { arn: `arn:aws:kinesis:${engine.config.region}:${key.account}:stream/${streamName}` };
    const doc = lookup({ StreamName: streamName, StreamId: streamId });
    return { arn: engine.arnOf(streamName), doc };
  }
  const iterator = text('ShardIterator');
  if (iterator !== undefined) {
    // GetRecords without StreamARN: the stream is the one the iterator was issued for.
    const state = openIterator(engine.sealer, iterator.replace(/^"(.*)"$/, '$1'));
    if (!state) return {};
    const doc = lookup({ StreamName: state.streamName });
    return { arn: engine.arnOf(state.streamName), doc: doc?.key === state.streamKey ? doc : undefined };
  }
  return {};
}

type Verdict = 'allow' | 'deny' | 'none';
type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const listOf = (value: unknown): string[] =>
  typeof value === 'string'
    ? [value]
    : Array.isArray(value)
      ? value.filter((v) => typeof v === 'string')
      : [];

/**
 * Evaluate an IAM resource policy for one principal, action and resource: a Deny statement that
 * applies wins, else an Allow statement that applies allows. Principal (`*`, `{"AWS": ...}` with
 * `*`, account ids, account root ARNs, IAM user and role ARNs; a role matches its STS sessions),
 * NotPrincipal, Action/NotAction (case-insensitive, `*` and `?` wildcards) and Resource/NotResource
 * (wildcards) are evaluated. Conditions are not: a Deny with a Condition applies as if its condition
 * held, an Allow with a Condition grants nothing (never more access than the policy could give).
 */
export function evaluatePolicy(
  policyText: string,
  key: AccessKey,
  action: string,
  resource: string,
): Verdict {
  let policy: unknown;
  try {
    policy = JSON.parse(policyText);
  } catch {
    return 'none';
  }
  if (!isObject(policy)) return 'none';
  const block = policy.Statement;
  const statements = (Array.isArray(block) ? block : [block]).filter(isObject);
  let verdict: Verdict = 'none';
  for (const statement of statements) {
    if (!applies(statement, key, action, resource)) continue;
    if (statement.Effect === 'Deny') return 'deny';
    if (statement.Effect === 'Allow' && statement.Condition === undefined) verdict = 'allow';
  }
  return verdict;
}

function applies(statement: Json, key: AccessKey, action: string, resource: string): boolean {
  const principalOk =
    'NotPrincipal' in statement
      ? !principalMatches(statement.NotPrincipal, key)
      : principalMatches(statement.Principal, key);
  const actionOk =
    'NotAction' in statement
      ? !listOf(statement.NotAction).some((p) => wildcard(p, action, true))
      : listOf(statement.Action).some((p) => wildcard(p, action, true));
  const resourceOk =
    'NotResource' in statement
      ? !listOf(statement.NotResource).some((p) => wildcard(p, resource, false))
      : listOf(statement.Resource).some((p) => wildcard(p, resource, false));
  return principalOk && actionOk && resourceOk;
}

function principalMatches(principal: unknown, key: AccessKey): boolean {
  if (principal === '*') return true;
  if (!isObject(principal)) return false;
  return listOf(principal.AWS).some((id) => id === '*' || awsPrincipalMatches(id, key));
}

function awsPrincipalMatches(id: string, key: AccessKey): boolean {
  if (/^\d{12}$/.test(id)) return id === key.account;
  const root = /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(id);
  if (root) return root[1] === key.account;
  if (id === key.principal) return true;
  const role = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(id);
  const session = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(key.principal);
  return role !== null && session !== null && role[1] === session[1] && role[2] === session[2];
}

/** IAM wildcard matching: `*` any run of characters, `?` one character. */
function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
}
