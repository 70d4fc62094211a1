import { createHash, createHmac, type Hash, type Hmac, timingSafeEqual } from 'node:crypto';
import { getCanonicalHeaders, getSigningKey, SignatureV4 } from '@smithy/signature-v4';
import { KinesisError } from './errors.js';

/**
 * Signature Version 4 verification of a request as it was received: the signature is computed again
 * with the AWS SDK's own signer (@smithy/signature-v4: canonical path, query, headers and string to
 * sign) from the method, path, query, the values of the signed headers, the payload hash and the
 * credential scope, then compared in constant time.
 *
 * The order of the checks is the one dynalite's author observed on DynamoDB, the same AWS front end
 * (mhart/dynalite index.js): date format, clock skew, Host signed, algorithm, credential shape,
 * credential scope, access key, signature, security token. The messages are the service's as Kinesis
 * clients reported them (InvalidSignatureException expiry: remind101/logspout-kinesis#21, "not yet
 * current": s12v/awsbeats#48; scope service: twitchscience/kinsumer#57; scope date:
 * disneystreaming/smithy4s#387; unknown key: awslabs/spark-sql-kinesis-connector#70); the scope
 * region wording without the region is the current one (an STS probe recorded against AWS). The
 * service no longer appends the canonical request to the mismatch message (apache/camel-k#1608).
 */

export const sigv4Algorithm = 'AWS4-HMAC-SHA256';

/** An access key the server knows. */
export interface SigningKey {
  accessKeyId: string;
  secretAccessKey: string;
  /** With a session token, requests must carry it in X-Amz-Security-Token. */
  sessionToken?: string;
}

/** What verification needs of a request, as received. */
export interface ReceivedRequest {
  method: string;
  /** Path and query exactly as received (`req.url`, the `:path` pseudo-header over HTTP/2). */
  url: string;
  /** Header names and values as received (`req.rawHeaders`), HTTP/2 pseudo-headers included. */
  rawHeaders: readonly string[];
  body: Buffer;
}

export interface VerifyOptions {
  /** The region and service a credential scope must name. */
  region: string;
  service: string;
  nowMs: number;
  /** How far X-Amz-Date may be from the server's clock. */
  maxSkewMs: number;
  keyOf(accessKeyId: string): SigningKey | undefined;
}

export type Verified = { ok: true; key: SigningKey } | { ok: false; error: KinesisError };

export const sigv4Messages = {
  dateFormat: (value: string) =>
    `Date must be in ISO-8601 'basic format'. Got '${value}'. See http://en.wikipedia.org/wiki/ISO_8601`,
  expired: (date: string, limit: string, now: string, minutes: number) =>
    `Signature expired: ${date} is now earlier than ${limit} (${now} - ${minutes} min.)`,
  notYetCurrent: (date: string, limit: string, now: string, minutes: number) =>
    `Signature not yet current: ${date} is still later than ${limit} (${now} + ${minutes} min.)`,
  hostNotSigned: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
  algorithm: (algorithm: string) =>
    `Unsupported AWS 'algorithm': '${algorithm}' (only ${sigv4Algorithm} for now). `,
  credentialParts: (credential: string) =>
    `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${credential}'`,
  scopeRegion: 'Credential should be scoped to a valid region. ',
  scopeService: (service: string) => `Credential should be scoped to correct service: '${service}'. `,
  scopeTerminator: (terminator: string) =>
    `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'. `,
  scopeDate: 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP. ',
  unknownKey: 'The security token included in the request is invalid.',
  badToken: 'The security token included in the request is invalid',
  mismatch:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
};

const incomplete = (message: string) => new KinesisError('IncompleteSignatureException', message);
const invalid = (message: string) => new KinesisError('InvalidSignatureException', message);
const unrecognized = (message: string) => new KinesisError('UnrecognizedClientException', message);

/** Verify a request's SigV4 Authorization header; resolves to the key that signed it or the error. */
export async function verifySigV4(request: ReceivedRequest, options: VerifyOptions): Promise<Verified> {
  const fail = (error: KinesisError): Verified => ({ ok: false, error });
  const headers = headerMap(request.rawHeaders);
  const authorization = parseAuthorization(first(headers, 'authorization') ?? '');

  // 1. The request's date, and the clock skew.
  const date = requestDate(headers);
  if (date instanceof KinesisError) return fail(date);
  const skew = options.nowMs - date.ms;
  if (Math.abs(skew) > options.maxSkewMs) {
    const minutes = Math.round(options.maxSkewMs / 60_000);
    const now = basicFormat(options.nowMs);
    return fail(
      invalid(
        skew > 0
          ? sigv4Messages.expired(date.text, basicFormat(options.nowMs - options.maxSkewMs), now, minutes)
          : sigv4Messages.notYetCurrent(
              date.text,
              basicFormat(options.nowMs + options.maxSkewMs),
              now,
              minutes,
            ),
      ),
    );
  }

  // 2. Host (or :authority over HTTP/2) must be signed.
  const signedNames = authorization.params.get('SignedHeaders')?.split(';') ?? [];
  const lowerNames = signedNames.map((name) => name.toLowerCase());
  if (!lowerNames.includes('host') && !lowerNames.includes(':authority')) {
    return fail(invalid(sigv4Messages.hostNotSigned));
  }

  // 3. Algorithm and credential scope.
  if (authorization.algorithm !== sigv4Algorithm) {
    return fail(incomplete(sigv4Messages.algorithm(authorization.algorithm)));
  }
  const credential = authorization.params.get('Credential') ?? '';
  const parts = credential.replace(/\/+$/, '').split('/');
  if (parts.length !== 5) return fail(incomplete(sigv4Messages.credentialParts(credential)));
  const [accessKeyId = '', scopeDate = '', region = '', service = '', terminator = ''] = parts;
  let scopeProblems = '';
  if (region !== options.region) scopeProblems += sigv4Messages.scopeRegion;
  if (service !== options.service) scopeProblems += sigv4Messages.scopeService(options.service);
  if (terminator !== 'aws4_request') scopeProblems += sigv4Messages.scopeTerminator(terminator);
  if (scopeDate !== date.text.slice(0, 8)) scopeProblems += sigv4Messages.scopeDate;
  if (scopeProblems) return fail(invalid(scopeProblems));

  // 4. The access key (a key issued with a session token is unknown without it).
  const key = options.keyOf(accessKeyId);
  const token = first(headers, 'x-amz-security-token');
  if (!key || (key.sessionToken !== undefined && token === undefined)) {
    return fail(unrecognized(sigv4Messages.unknownKey));
  }

  // 5. The signature, over the request as received.
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  const declaredHash = first(headers, 'x-amz-content-sha256');
  // The signed payload hash must be the body's: a body changed after signing fails here even when
  // the client sent its hash in a header (UNSIGNED-PAYLOAD is refused the same way).
  if (declaredHash !== undefined && declaredHash !== bodyHash) return fail(invalid(sigv4Messages.mismatch));
  const expected = await signatureOf(request, headers, signedNames, bodyHash, date.text, {
    key,
    scopeDate,
    region,
    service,
  });
  const given = authorization.params.get('Signature') ?? '';
  if (!sameText(expected, given)) return fail(invalid(sigv4Messages.mismatch));

  // 6. The session token.
  if (token !== undefined && token !== key.sessionToken) return fail(unrecognized(sigv4Messages.badToken));
  return { ok: true, key };
}

/** Compare two signatures in constant time (for equal lengths). */
function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

interface ParsedAuthorization {
  algorithm: string;
  params: Map<string, string>;
}

/** `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` (commas or spaces between). */
function parseAuthorization(value: string): ParsedAuthorization {
  const trimmed = value.trim();
  const algorithm = trimmed.split(/\s/, 1)[0] ?? '';
  const params = new Map<string, string>();
  for (const part of trimmed.slice(algorithm.length).split(/[\s,]+/)) {
    const equals = part.indexOf('=');
    if (equals > 0 && !params.has(part.slice(0, equals))) {
      params.set(part.slice(0, equals), part.slice(equals + 1));
    }
  }
  return { algorithm, params };
}

/** Every value of every header, by lower-case name, in the order received. */
function headerMap(raw: readonly string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const values = map.get(name);
    if (values) values.push(raw[i + 1] as string);
    else map.set(name, [raw[i + 1] as string]);
  }
  return map;
}

function first(headers: Map<string, string[]>, name: string): string | undefined {
  return headers.get(name)?.[0];
}

const isoBasic = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** `20260101T000000Z` */
function basicFormat(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}/, '')
    .replace(/[-:]/g, '');
}

/** The request time from X-Amz-Date (ISO 8601 basic format) or, without it, the Date header. */
function requestDate(headers: Map<string, string[]>): { text: string; ms: number } | KinesisError {
  const amzDate = first(headers, 'x-amz-date');
  if (amzDate !== undefined) {
    const match = isoBasic.exec(amzDate);
    if (!match) return incomplete(sigv4Messages.dateFormat(amzDate));
    const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
    const ms = Date.UTC(y as number, (mo as number) - 1, d, h, mi, s);
    if (Number.isNaN(ms) || basicFormat(ms) !== amzDate) return incomplete(sigv4Messages.dateFormat(amzDate));
    return { text: amzDate, ms };
  }
  const httpDate = first(headers, 'date') ?? '';
  const ms = Date.parse(httpDate);
  if (Number.isNaN(ms)) return incomplete(sigv4Messages.dateFormat(httpDate));
  return { text: basicFormat(ms), ms };
}

type Signable = Parameters<SignatureV4['presign']>[0];
type HashConstructor = ConstructorParameters<typeof SignatureV4>[0]['sha256'];
type SourceData = string | ArrayBuffer | ArrayBufferView;

const bytesOf = (data: SourceData): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);

/** SHA-256 (or HMAC-SHA256 with a secret) from node:crypto, in the shape the signer takes. */
export class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

/** The SDK's signer, used only for its canonical request and string to sign. */
class Verifier extends SignatureV4 {
  constructor() {
    super({
      service: 'kinesis',
      region: 'unused',
      credentials: { accessKeyId: '', secretAccessKey: '' },
      sha256: NodeSha256 as unknown as HashConstructor,
    });
  }

  async stringToSign(
    request: Signable,
    canonicalHeaders: Record<string, string>,
    payloadHash: string,
    longDate: string,
    scope: string,
  ): Promise<string> {
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    return this.createStringToSign(longDate, scope, canonicalRequest, sigv4Algorithm);
  }
}

const verifier = new Verifier();

async function signatureOf(
  request: ReceivedRequest,
  headers: Map<string, string[]>,
  signedNames: string[],
  payloadHash: string,
  longDate: string,
  scope: { key: SigningKey; scopeDate: string; region: string; service: string },
): Promise<string> {
  const queryAt = request.url.indexOf('?');
  const path = queryAt < 0 ? request.url : request.url.slice(0, queryAt);
  const query = queryAt < 0 ? {} : parseQuery(request.url.slice(queryAt + 1));
  // The signed headers' values as received; several values of one header are joined with commas.
  // HTTP/2 carries the host in `:authority` (what the AWS SDK signs over HTTP/2); a client that
  // signed `host` over HTTP/2, or `:authority` over HTTP/1.1, signed the same value.
  const signedValues: Record<string, string> = {};
  for (const name of signedNames) {
    const lower = name.toLowerCase();
    const values =
      headers.get(lower) ??
      (lower === 'host'
        ? headers.get(':authority')
        : lower === ':authority'
          ? headers.get('host')
          : undefined);
    signedValues[lower] = (values ?? ['']).map((value) => value.trim()).join(',');
  }
  const signable: Signable = {
    method: request.method,
    protocol: 'http:',
    hostname: '',
    path: path || '/',
    query,
    headers: signedValues,
  };
  const canonicalHeaders = getCanonicalHeaders(signable, undefined, new Set(Object.keys(signedValues)));
  const credentialScope = `${scope.scopeDate}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = await verifier.stringToSign(
    signable,
    canonicalHeaders,
    payloadHash,
    longDate,
    credentialScope,
  );
  const signingKey = await getSigningKey(
    NodeSha256 as unknown as HashConstructor,
    { accessKeyId: scope.key.accessKeyId, secretAccessKey: scope.key.secretAccessKey },
    scope.scopeDate,
    scope.region,
    scope.service,
  );
  return createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
}

/** Query parameters decoded (the signer encodes them again, as the SDK does when signing). */
function parseQuery(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null);
  for (const pair of search.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const key = decode(equals < 0 ? pair : pair.slice(0, equals));
    const value = equals < 0 ? '' : decode(pair.slice(equals + 1));
    const known = query[key];
    query[key] = known === undefined ? value : Array.isArray(known) ? [...known, value] : [known, value];
  }
  return query;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
