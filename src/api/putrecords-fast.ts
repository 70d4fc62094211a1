// A fast path for PutRecords and PutRecord bodies on the JSON wire: a scanner over the body's bytes
// that recognises the common, fully valid shape and returns exactly the input that
// `decodeInput(operation, JSON.parse(body), 'json')` would return, without turning the body into
// one string, building a JS value of everything in it, or allocating a Buffer per record
// (profiled: parsing and decoding a 4 MiB PutRecords body was a quarter of the event loop's busy
// time).
//
// Fallback rule: the scanner only returns a result for input that is valid in every respect. On
// anything it does not fully handle (an escape or a non-ASCII byte in any string, whitespace other
// than JSON's, duplicate or unknown members, nulls, numbers, nested values, non-canonical base64,
// any model constraint violated, trailing bytes...) it returns undefined, and the request takes the
// generic path (JSON.parse and decodeInput), which produces the service's exact answer.

import { fastPath } from '../limits.js';
import { modelShape, satisfiesShape } from './validation.js';

type Input = Record<string, unknown>;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const PAD = 0x3d;

/** Thrown (and caught at the top) when the body is not the shape handled here. */
class NotHandled extends Error {}
const notHandled = new NotHandled('not handled by the fast path');
function bail(): never {
  throw notHandled;
}

/** A string member's check, from its model shape: a length range inline, anything more (a pattern,
 * an enum) through validation.ts's own constraint code. */
function stringCheck(shapeName: string): (value: string) => boolean {
  const shape = modelShape(shapeName);
  if (shape.type !== 'string') throw new Error(`${shapeName} is not a string shape`);
  if (shape.pattern !== undefined || shape.enum !== undefined) {
    return (value) => satisfiesShape(value, shapeName);
  }
  const min = shape.min ?? 0;
  const max = shape.max ?? Number.POSITIVE_INFINITY;
  return (value) => value.length >= min && value.length <= max;
}

/** The shape names the fast path decodes, looked up once from the model's operation inputs. */
function memberShape(structure: string, member: string): string {
  const ref = modelShape(structure).members?.[member];
  if (ref === undefined) throw new Error(`${structure} has no member ${member}`);
  return ref.shape;
}

const recordsShape = modelShape(memberShape('PutRecordsInput', 'Records'));
const recordsMin = recordsShape.min ?? 0;
const recordsMax = recordsShape.max ?? Number.POSITIVE_INFINITY;
const dataShape = modelShape(memberShape('PutRecordsRequestEntry', 'Data'));
const dataMin = dataShape.min ?? 0;
const dataMax = dataShape.max ?? Number.POSITIVE_INFINITY;
if (
  dataShape.type !== 'blob' ||
  recordsShape.member !== 'PutRecordsRequestEntry' ||
  memberShape('PutRecordInput', 'Data') !== memberShape('PutRecordsRequestEntry', 'Data')
) {
  throw new Error('the model no longer has the shapes the PutRecords fast path decodes');
}

/**
 * A structure handled: its members' bits (for duplicates and required members without a Set per
 * object), the checks of its string members, and the bits of its required members.
 */
interface Structure {
  bits: Map<string, number>;
  strings: Map<string, (value: string) => boolean>;
  required: number;
}

function structure(name: string, strings: string[]): Structure {
  const members = Object.entries(modelShape(name).members ?? {});
  const bits = new Map(members.map(([member], i) => [member, 1 << i]));
  let required = 0;
  for (const [member, ref] of members) if (ref.required === true) required |= bits.get(member) ?? 0;
  return {
    bits,
    strings: new Map(strings.map((member) => [member, stringCheck(memberShape(name, member))])),
    required,
  };
}

const streamMembers = ['StreamName', 'StreamARN', 'StreamId'];
const putRecordsInput = structure('PutRecordsInput', streamMembers);
const entryInput = structure('PutRecordsRequestEntry', ['PartitionKey', 'ExplicitHashKey']);
const putRecordInput = structure('PutRecordInput', [
  ...streamMembers,
  'PartitionKey',
  'ExplicitHashKey',
  'SequenceNumberForOrdering',
]);

/** A base64 value found in the body: its span, then where its bytes go in the request's buffer. */
interface BlobSpan {
  start: number;
  end: number;
  /** Decoded length (canonical padded base64 assumed; checked when decoded). */
  size: number;
  /** The object whose `Data` member it is. */
  owner: Input;
}

/**
 * The scanner: one body, one pass over its structure. Blob values are only located during the scan;
 * they are decoded afterwards into one buffer for the whole request (`decodeBlobs`).
 */
class Scanner {
  pos = 0;
  readonly blobs: BlobSpan[] = [];

  constructor(readonly body: Buffer) {}

  /** Skips JSON whitespace; returns the next byte (-1 at the end). */
  next(): number {
    const body = this.body;
    let pos = this.pos;
    for (;;) {
      const c = body[pos];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else {
        this.pos = pos;
        return c ?? -1;
      }
    }
  }

  expect(byte: number): void {
    if (this.next() !== byte) bail();
    this.pos++;
  }

  /** A string without escapes, of printable ASCII and DEL only (what is the same in UTF-8 and
   * latin1); `pos` is at its opening quote. */
  string(): string {
    const body = this.body;
    const start = this.pos + 1;
    let pos = start;
    for (;;) {
      const c = body[pos];
      if (c === undefined || c === BACKSLASH || c < 0x20 || c > 0x7f) bail();
      if (c === QUOTE) break;
      pos++;
    }
    this.pos = pos + 1;
    return latin1Slice(body, start, pos);
  }

  /** A base64 value: located (up to the next quote) and sized; decoded later. */
  blob(owner: Input): void {
    const start = this.pos + 1;
    const end = this.body.indexOf(QUOTE, start);
    if (end < 0) bail();
    const length = end - start;
    if (length % 4 !== 0) bail();
    let padding = 0;
    if (length > 0 && this.body[end - 1] === PAD) padding = this.body[end - 2] === PAD ? 2 : 1;
    const size = (length / 4) * 3 - padding;
    if (size < dataMin || size > dataMax) bail();
    this.blobs.push({ start, end, size, owner });
    this.pos = end + 1;
  }

  /**
   * An object's members, each a member of `shape` (else the body is not handled): calls `member`
   * with each name, `pos` at the value; returns the bits of the members seen, once each.
   */
  members(shape: Structure, member: (name: string) => void): number {
    this.expect(OPEN_BRACE);
    let seen = 0;
    if (this.next() === CLOSE_BRACE) {
      this.pos++;
      if (shape.required !== 0) bail();
      return seen;
    }
    for (;;) {
      if (this.next() !== QUOTE) bail();
      const name = this.string();
      const bit = shape.bits.get(name);
      if (bit === undefined || (seen & bit) !== 0) bail();
      seen |= bit;
      this.expect(COLON);
      // Every member handled is a string or a blob, but Records, a list.
      if (this.next() !== (name === 'Records' ? OPEN_BRACKET : QUOTE)) bail();
      member(name);
      const c = this.next();
      this.pos++;
      if (c === CLOSE_BRACE) {
        if ((seen & shape.required) !== shape.required) bail();
        return seen;
      }
      if (c !== COMMA) bail();
    }
  }

  /** A string member checked against its shape. */
  checkedString(check: ((value: string) => boolean) | undefined): string {
    if (check === undefined) bail();
    const value = this.string();
    if (!check(value)) bail();
    return value;
  }

  /** An object of a `Data` blob and checked strings: a PutRecords entry, or PutRecord's input. */
  dataObject(shape: Structure): Input {
    const out: Input = {};
    this.members(shape, (name) => {
      if (name === 'Data') {
        out.Data = undefined;
        this.blob(out);
      } else out[name] = this.checkedString(shape.strings.get(name));
    });
    return out;
  }

  records(): Input[] {
    this.expect(OPEN_BRACKET);
    const records: Input[] = [];
    if (this.next() === CLOSE_BRACKET) {
      this.pos++;
      return records;
    }
    for (;;) {
      if (records.length >= recordsMax) bail();
      records.push(this.dataObject(entryInput));
      const c = this.next();
      this.pos++;
      if (c === CLOSE_BRACKET) return records;
      if (c !== COMMA) bail();
    }
  }

  /** Nothing but whitespace may follow the top-level object. */
  end(): void {
    if (this.next() !== -1) bail();
  }
}

/** Buffer's own latin1 and base64 methods, without the argument checks of `toString` and `write`
 * (which showed in the profile); the documented calls where a Node lacks them. */
interface RawBuffer {
  latin1Slice(start: number, end: number): string;
  base64Slice(start: number, end: number): string;
  base64Write(text: string, offset: number, length: number): number;
}
const raw = Buffer.prototype as unknown as Partial<RawBuffer>;
const latin1Slice: (buf: Buffer, start: number, end: number) => string =
  typeof raw.latin1Slice === 'function'
    ? (buf, start, end) => (buf as unknown as RawBuffer).latin1Slice(start, end)
    : (buf, start, end) => buf.toString('latin1', start, end);
const base64Slice: (buf: Buffer, start: number, end: number) => string =
  typeof raw.base64Slice === 'function'
    ? (buf, start, end) => (buf as unknown as RawBuffer).base64Slice(start, end)
    : (buf, start, end) => buf.toString('base64', start, end);
const base64Write: (buf: Buffer, text: string, offset: number, length: number) => number =
  typeof raw.base64Write === 'function'
    ? (buf, text, offset, length) => (buf as unknown as RawBuffer).base64Write(text, offset, length)
    : (buf, text, offset, length) => buf.write(text, offset, length, 'base64');

/**
 * Decodes every blob located by the scan into one buffer sized for all of them (one allocation per
 * request rather than one per record); each `Data` is a view of it. Each value is decoded by Node
 * from latin1 strings of at most `chunkChars` characters (a multiple of 4, so that every piece but
 * the last is whole groups without padding) and checked by encoding each piece back: canonical
 * padded base64 is exactly what gives the same text back, as in validation.ts's decodeBase64.
 */
function decodeBlobs(body: Buffer, blobs: BlobSpan[], chunkChars: number): void {
  let total = 0;
  for (const blob of blobs) total += blob.size;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const blob of blobs) {
    const { start, end, size } = blob;
    const first = offset;
    for (let from = start; from < end; from += chunkChars) {
      const to = Math.min(end, from + chunkChars);
      // Whole groups decode to 3 bytes each; the last piece's padding was counted in `size`.
      const length = to === end ? first + size - offset : ((to - from) / 4) * 3;
      const text = latin1Slice(body, from, to);
      if (base64Write(out, text, offset, length) !== length) bail();
      if (base64Slice(out, offset, offset + length) !== text) bail();
      offset += length;
    }
    blob.owner.Data = out.subarray(first, first + size);
  }
}

function putRecords(scanner: Scanner): Input {
  const input: Input = {};
  scanner.members(putRecordsInput, (name) => {
    if (name === 'Records') {
      const records = scanner.records();
      if (records.length < recordsMin) bail();
      input.Records = records;
    } else input[name] = scanner.checkedString(putRecordsInput.strings.get(name));
  });
  return input;
}

/** Operations with a fast path. */
export function hasFastPath(operation: string): boolean {
  return operation === 'PutRecords' || operation === 'PutRecord';
}

/**
 * The decoded input of a PutRecords or PutRecord JSON body, deep-equal to what
 * `decodeInput(operation, JSON.parse(body), 'json')` returns for it, or undefined when the body is
 * not the valid, plain shape handled here (the caller then takes the generic path).
 * `chunkChars` is for tests (pieces of a few characters).
 */
export function fastDecode(
  operation: string,
  body: Buffer,
  chunkChars: number = fastPath.base64ChunkChars,
): Input | undefined {
  if (!hasFastPath(operation)) return undefined;
  if (!(chunkChars > 0 && chunkChars % 4 === 0))
    throw new RangeError('chunkChars must be a positive multiple of 4');
  const scanner = new Scanner(body);
  try {
    const input = operation === 'PutRecords' ? putRecords(scanner) : scanner.dataObject(putRecordInput);
    scanner.end();
    decodeBlobs(body, scanner.blobs, chunkChars);
    return input;
  } catch (error) {
    if (error === notHandled) return undefined;
    throw error;
  }
}
