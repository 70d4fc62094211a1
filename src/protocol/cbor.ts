/**
 * The CBOR 1.1 wire format (`application/x-amz-cbor-1.1`), what the Java SDKs (v1 and v2), the KCL and
 * the KPL send to Kinesis by default. Same operations, targets, members and errors as JSON 1.1; only
 * the encoding differs:
 *
 * - Blobs are CBOR byte strings (major type 2), not base64 text.
 * - Timestamps are tag 1 wrapping an integer count of epoch **milliseconds** (not the seconds of RFC 8949
 *   section 3.4.2): the Java SDKs write `writeTag(1); writeNumber(instant.toEpochMilli())` and read a
 *   timestamp as `Instant.ofEpochMilli(Long.parseLong(text))`, so a response timestamp must be an
 *   integer (a float such as 1.7E12 fails `Long.parseLong`).
 * - The Java SDKs write through Jackson's CBOR generator: maps and arrays indefinite-length (`bf`..`ff`,
 *   `9f`..`ff`), text longer than 3,996 characters as an indefinite-length (chunked) string, integers
 *   in their shortest form.
 *
 * Requests are checked by a strict scanner before cbor-x materialises them: exactly one well-formed
 * item, bounded nesting, bounded item count, lengths that fit in the body, valid UTF-8, and only the
 * tags a Kinesis client sends (1, the bignums 2 and 3, and the self-describe tag 55799). The scanner
 * also rewrites what cbor-x does not read the way the Java SDKs mean it: tag 1 and tag 55799 are
 * dropped (so timestamps reach validation as raw numbers, where values of 1e11 and above are
 * milliseconds) and indefinite-length strings become definite ones. cbor-x never sees a tag of its
 * own extensions (records, shared structures, packed values, value sharing, ...).
 *
 * Responses are plain RFC 8949 encodings made by cbor-x with its extensions off: maps definite-length
 * (the Java SDKs read either form), byte strings for blobs, tag 1 + integer milliseconds for
 * timestamps, integers beyond 32 bits as 64-bit integers (never floats). Error bodies copy the
 * service's bytes exactly: an indefinite-length map `{__type, message}` (docs/kinesis-errors.md 2.3).
 */
import { isUtf8 } from 'node:buffer';
import { Decoder, Encoder, Tag } from 'cbor-x';
import type { WireCodec } from './codec.js';

export const cborContentType = 'application/x-amz-cbor-1.1';

/**
 * Deepest nesting of arrays, maps and tags accepted in a request. The deepest Kinesis input is
 * three levels (PutRecords: request, Records, entry); the bound keeps cbor-x's recursion shallow.
 */
export const maxCborDepth = 32;
/**
 * Most data items (map keys and values, array elements, tags, string chunks) in one request. A
 * PutRecords request of 500 records has about 3,500; the bound keeps the JavaScript objects a hostile
 * body can make (one small item is a few bytes on the wire but a hundred or more in memory) to a few
 * tens of MB.
 */
export const maxCborItems = 100_000;
/** Longest bignum (tags 2 and 3) accepted: 64 bytes is 512 bits, far beyond any Kinesis number. */
export const maxCborBignumBytes = 64;

/** A request body that is not acceptable CBOR; the handler answers SerializationException. */
export class CborSyntaxError extends Error {}

// ---------------------------------------------------------------------------------------------------------
// Decoding

const ARRAY = 4;
const MAP = 5;
const TAG = 6;
/** Tags the scanner drops before cbor-x reads the body: the tagged item stands for itself. */
const TRANSPARENT_TAGS = new Set([1, 55799]);
const BIGNUM_TAGS = new Set([2, 3]);

interface Frame {
  kind: typeof ARRAY | typeof MAP | typeof TAG;
  /** Items still expected, or -1 for an indefinite-length array or map (ended by a break). */
  remaining: number;
  /** Items read so far (a map's keys are its even items). */
  read: number;
  tag: number;
}

/** A stretch of the body replaced before cbor-x reads it (empty to drop it). */
interface Edit {
  start: number;
  end: number;
  bytes: Buffer;
}

const EMPTY = Buffer.alloc(0);

function fail(message: string): never {
  throw new CborSyntaxError(message);
}

/**
 * Checks that `body` is exactly one acceptable CBOR item, iteratively (no recursion), and returns the
 * edits that make it readable by cbor-x as the Java SDKs mean it.
 */
function scan(body: Buffer): Edit[] {
  const edits: Edit[] = [];
  const stack: Frame[] = [];
  const end = body.length;
  let pos = 0;
  let items = 0;

  /** Reads `n` big-endian bytes as a number (exact up to 2^53, enough to compare with lengths). */
  const readUint = (n: number): number => {
    if (n > end - pos) fail('Unexpected end of CBOR data');
    let value = 0;
    for (let i = 0; i < n; i++) value = value * 256 + (body[pos++] as number);
    return value;
  };
  /** The argument of a head whose additional information is `ai` (0..27). */
  const argument = (ai: number): number => {
    if (ai < 24) return ai;
    if (ai > 27) fail(`Reserved additional information ${ai}`);
    return readUint(1 << (ai - 24));
  };
  /** The item just read is complete: count it in its container, closing containers that are full. */
  const complete = (): boolean => {
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) return true;
      top.read++;
      if (top.remaining === -1) return false;
      if (--top.remaining > 0) return false;
      stack.pop();
    }
  };
  const checkUtf8 = (from: number, to: number): void => {
    if (!isUtf8(body.subarray(from, to))) fail('Invalid UTF-8 in a text string');
  };

  for (;;) {
    if (pos >= end) fail('Unexpected end of CBOR data');
    const start = pos;
    const initial = body[pos++] as number;
    const major = initial >> 5;
    const ai = initial & 0x1f;
    const parent = stack[stack.length - 1];

    if (initial === 0xff) {
      if (parent === undefined || parent.remaining !== -1) fail('Unexpected break');
      if (parent.kind === MAP && parent.read % 2 !== 0) fail('Map ended after a key');
      stack.pop();
      if (complete()) break;
      continue;
    }
    if (++items > maxCborItems) fail(`More than ${maxCborItems} data items`);
    if (parent?.kind === MAP && parent.read % 2 === 0 && major !== 0 && major !== 1 && major !== 3) {
      fail('Map keys must be text strings or integers');
    }
    if (parent?.kind === TAG && BIGNUM_TAGS.has(parent.tag) && major !== 2) {
      fail('A bignum must be a byte string');
    }
    const bignum = parent?.kind === TAG && BIGNUM_TAGS.has(parent.tag);

    switch (major) {
      case 0:
      case 1:
        if (ai === 31) fail('Indefinite length integer');
        argument(ai);
        break;
      case 2:
      case 3: {
        if (ai !== 31) {
          const length = argument(ai);
          if (length > end - pos) fail('Unexpected end of CBOR data');
          if (bignum && length > maxCborBignumBytes) fail('Bignum too large');
          if (major === 3) checkUtf8(pos, pos + length);
          pos += length;
          break;
        }
        // Indefinite length: definite chunks of the same type until a break, joined into one string.
        const chunks: Buffer[] = [];
        let total = 0;
        for (;;) {
          if (pos >= end) fail('Unexpected end of CBOR data');
          const head = body[pos++] as number;
          if (head === 0xff) break;
          if (head >> 5 !== major || (head & 0x1f) === 31)
            fail('Invalid chunk in an indefinite-length string');
          if (++items > maxCborItems) fail(`More than ${maxCborItems} data items`); // chunks count too
          const length = argument(head & 0x1f);
          if (length > end - pos) fail('Unexpected end of CBOR data');
          if (major === 3) checkUtf8(pos, pos + length);
          chunks.push(body.subarray(pos, pos + length));
          total += length;
          pos += length;
        }
        if (bignum && total > maxCborBignumBytes) fail('Bignum too large');
        edits.push({ start, end: pos, bytes: Buffer.concat([head(major, total), ...chunks]) });
        break;
      }
      case ARRAY:
      case MAP: {
        // Every item takes at least one byte: a count the rest of the body cannot hold is refused
        // before anything is allocated for it.
        const count = ai === 31 ? -1 : argument(ai) * (major === MAP ? 2 : 1);
        if (count > end - pos) fail('Unexpected end of CBOR data');
        if (count === 0) break;
        if (stack.length >= maxCborDepth) fail(`Nesting deeper than ${maxCborDepth}`);
        stack.push({ kind: major, remaining: count, read: 0, tag: 0 });
        continue;
      }
      case TAG: {
        if (ai === 31) fail('Indefinite length tag');
        const tag = argument(ai);
        if (TRANSPARENT_TAGS.has(tag)) edits.push({ start, end: pos, bytes: EMPTY });
        else if (!BIGNUM_TAGS.has(tag)) fail(`Unsupported tag ${tag}`);
        if (stack.length >= maxCborDepth) fail(`Nesting deeper than ${maxCborDepth}`);
        stack.push({ kind: TAG, remaining: 1, read: 0, tag });
        continue;
      }
      default: // 7: simple values and floats
        if (ai >= 20 && ai <= 23) break; // false, true, null, undefined
        if (ai >= 25 && ai <= 27) {
          argument(ai); // half, single or double precision float
          break;
        }
        fail(`Unsupported simple value ${ai}`);
    }
    if (complete()) break;
  }
  if (pos !== end) fail('Data after the end of the CBOR item');
  return edits;
}

/** The head of a definite-length item in its shortest form. */
function head(major: number, length: number): Buffer {
  const type = major << 5;
  if (length < 24) return Buffer.from([type | length]);
  if (length < 0x100) return Buffer.from([type | 24, length]);
  if (length < 0x10000) return Buffer.from([type | 25, length >> 8, length & 0xff]);
  const out = Buffer.alloc(5);
  out[0] = type | 26;
  out.writeUInt32BE(length, 1);
  return out;
}

function applyEdits(body: Buffer, edits: Edit[]): Buffer {
  if (edits.length === 0) return body;
  const parts: Buffer[] = [];
  let at = 0;
  for (const edit of edits) {
    parts.push(body.subarray(at, edit.start), edit.bytes);
    at = edit.end;
  }
  parts.push(body.subarray(at));
  return Buffer.concat(parts);
}

/** Maps come back as `Map`s so that any key (even `__proto__`) stays an ordinary entry. */
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });

/**
 * cbor-x's values as the JSON parser would give them: maps as plain objects, byte strings as Buffers,
 * integers as numbers when exact (bigints beyond), `undefined` as null. Recursion is bounded by
 * `maxCborDepth`, which the scanner enforced.
 */
function toPlain(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) {
    return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  if (Array.isArray(value)) return value.map(toPlain);
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [key, member] of value) {
      // defineProperty keeps keys such as "__proto__" as ordinary entries, as JSON.parse does.
      Object.defineProperty(out, String(key), {
        value: toPlain(member),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  fail('Unexpected value');
}

/** Parses a request body; throws `CborSyntaxError` (or cbor-x's error) on anything unacceptable. */
export function parseCbor(body: Buffer): unknown {
  const readable = applyEdits(body, scan(body));
  return toPlain(decoder.decode(readable));
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

/**
 * cbor-x with every extension off: no records or shared structures, no packing, no tag 64 on byte
 * arrays, no tag 259 on maps, no float32 narrowing. Values reach it already converted by `toWire`, so
 * only strings, numbers, bigints, booleans, null, Buffers, arrays, Maps and `Tag(…, 1)` are encoded.
 */
const encoder = new Encoder({
  useRecords: false,
  mapsAsObjects: false, // with this off, Maps are written without tag 259
  tagUint8Array: false,
  pack: false,
  structuredClone: false,
  bundleStrings: false,
  variableMapSize: true,
  useFloat32: 0,
});

/** Integers outside 32 bits become bigints, which cbor-x writes as 64-bit integers rather than floats. */
function numberToWire(value: number): number | bigint {
  if (!Number.isInteger(value) || (value >= -(2 ** 32) && value < 2 ** 32)) return value;
  return BigInt(value);
}

function toWire(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') return numberToWire(value);
  if (typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isFinite(ms) ? new Tag(numberToWire(ms), 1) : null;
  }
  if (Array.isArray(value)) return value.map(toWire);
  const out = new Map<string, unknown>();
  for (const [key, member] of Object.entries(value)) {
    if (member !== undefined) out.set(key, toWire(member));
  }
  return out;
}

export function encodeCbor(value: unknown): Buffer {
  const out = encoder.encode(toWire(value));
  // cbor-x carves its results out of one buffer that grows to the largest response so far: a small
  // result is copied, so that a response a slow client has not read yet does not pin that buffer.
  return out.length * 4 < out.buffer.byteLength ? Buffer.from(out) : out;
}

/**
 * An error body exactly as the service writes it: an indefinite-length map of `__type` and, when there
 * is one, the message under `key`, e.g. `bf 66 "__type" 76 "SerializationException" ff`.
 */
export function encodeCborError(type: string, message: string | undefined, key: string): Buffer {
  const parts: Buffer[] = [Buffer.from([0xbf]), encoder.encode('__type'), encoder.encode(type)];
  if (message) parts.push(encoder.encode(key), encoder.encode(message));
  parts.push(Buffer.from([0xff]));
  return Buffer.concat(parts);
}

export const cborCodec: WireCodec = {
  contentTypes: [cborContentType],
  wire: 'cbor',
  responseContentType: cborContentType,
  parse: parseCbor,
  encode: encodeCbor,
  encodeError: encodeCborError,
};
