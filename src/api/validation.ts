// Request decoding and validation for the Kinesis API, driven by the botocore model in model.generated.json
// (regenerate with `node scripts/gen-model.mjs`). Error wording follows the real service; see
// docs/validation-facts.md for where each message format comes from.

import model from './model.generated.json' with { type: 'json' };

export type Wire = 'json' | 'cbor';
export interface WireError {
  name: 'SerializationException' | 'ValidationException';
  message: string;
}
export type DecodeResult = { ok: true; input: Record<string, unknown> } | { ok: false; error: WireError };

/** The model's shapes as src/api/model.generated.json holds them (also read by the fuzz tests). */
export interface MemberRef {
  shape: string;
  required?: boolean;
}
export interface ShapeDef {
  type: string;
  members?: Record<string, MemberRef>;
  member?: string;
  key?: string;
  value?: string;
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
}
interface OperationDef {
  input?: string;
}
interface ServiceModel {
  metadata: { apiVersion: string; endpointPrefix: string };
  operations: Record<string, OperationDef>;
  shapes: Record<string, ShapeDef>;
}

const MODEL: ServiceModel = model;
/** The service stops collecting constraint violations after this many. */
const MAX_REPORTED_ERRORS = 10;
const NOT_NULL = 'Member must not be null';
/** Package of the service's generated Java classes, seen in how it prints structures. */
const JAVA_PACKAGE = `com.amazonaws.${MODEL.metadata.endpointPrefix}.v${MODEL.metadata.apiVersion.replaceAll('-', '')}`;

export function knownOperations(): string[] {
  return Object.keys(MODEL.operations);
}

/** Decode a request body (already parsed from JSON or CBOR into a plain JS value) for `operation` and validate it against the model. */
export function decodeInput(operation: string, body: unknown, wire: Wire): DecodeResult {
  if (!Object.hasOwn(MODEL.operations, operation)) throw new RangeError(`Unknown operation: ${operation}`);
  const inputShape = MODEL.operations[operation]?.input;
  if (inputShape === undefined) return { ok: true, input: {} };
  if (body === null || body === undefined) return serializationError('');
  let input: Record<string, unknown>;
  try {
    input = decodeStructure(body, shapeOf(inputShape), wire);
  } catch (err) {
    if (err instanceof SerializationFailure) return serializationError(err.message);
    throw err;
  }
  const errors = validateInput(input, inputShape);
  if (errors.length > 0) {
    return { ok: false, error: { name: 'ValidationException', message: summarize(errors) } };
  }
  return { ok: true, input };
}

function serializationError(message: string): DecodeResult {
  return { ok: false, error: { name: 'SerializationException', message } };
}

function summarize(errors: string[]): string {
  const noun = errors.length === 1 ? 'error' : 'errors';
  return `${errors.length} validation ${noun} detected: ${errors.join('; ')}`;
}

/** A shape of the model, by name (for src/api/putrecords-fast.ts). */
export function modelShape(name: string): ShapeDef {
  return shapeOf(name);
}

/** Whether a present value meets every constraint of its shape, exactly as validation checks it
 * (for src/api/putrecords-fast.ts, which must accept only what validation accepts). */
export function satisfiesShape(value: unknown, shapeName: string): boolean {
  return satisfiesAll(value, shapeOf(shapeName));
}

function shapeOf(name: string): ShapeDef {
  const shape = MODEL.shapes[name];
  if (shape === undefined) throw new Error(`Shape ${name} is missing from model.generated.json`);
  return shape;
}

// ---------------------------------------------------------------------------------------------------------
// Decoding: wire values -> typed values, or a SerializationException worded like the service's.

class SerializationFailure extends Error {}

function fail(message: string): never {
  throw new SerializationFailure(message);
}

type PlainObject = Record<string, unknown>;

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function isPlainObject(value: unknown): value is PlainObject {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !isBytes(value) &&
    !(value instanceof Date)
  );
}

/** The Java class the service reports when a scalar of the wrong kind arrives. */
function javaClassOf(value: unknown): string {
  if (typeof value === 'boolean') return 'java.lang.Boolean';
  if (typeof value === 'string') return 'java.lang.String';
  if (typeof value === 'number' || typeof value === 'bigint') {
    return 'com.amazon.coral.value.json.numbers.TruncatingBigNumber';
  }
  if (value instanceof Date) return 'java.util.Date';
  if (isBytes(value)) return 'java.nio.HeapByteBuffer';
  return 'java.lang.Object';
}

/** The message for a list or object where a scalar was expected, if `value` is one of those. */
function containerMismatch(value: unknown): string | undefined {
  if (Array.isArray(value)) return 'Start of list found where not expected';
  if (isPlainObject(value)) return 'Start of structure or map found where not expected.';
  return undefined;
}

/** Fails for a value that cannot become `target` (worded like "an Integer", "a Blob"). */
function scalarMismatch(value: unknown, target: string): never {
  fail(containerMismatch(value) ?? `class ${javaClassOf(value)} can not be converted to ${target}`);
}

/** Decodes one member value; `undefined` means absent (JSON null counts as absent). */
function decodeValue(value: unknown, shape: ShapeDef, wire: Wire): unknown {
  if (value === null || value === undefined) return undefined;
  switch (shape.type) {
    case 'structure':
      return decodeStructure(value, shape, wire);
    case 'list':
      return decodeList(value, shape, wire);
    case 'map':
      return decodeMap(value, shape, wire);
    case 'string':
      return typeof value === 'string' ? value : scalarMismatch(value, 'an String');
    case 'boolean':
      return decodeBoolean(value);
    case 'integer':
    case 'long':
    case 'float':
    case 'double':
      return decodeNumber(value, shape.type);
    case 'blob':
      return decodeBlob(value);
    case 'timestamp':
      return decodeTimestamp(value, wire);
    default:
      throw new Error(`Unsupported shape type ${shape.type}`);
  }
}

function decodeStructure(value: unknown, shape: ShapeDef, wire: Wire): PlainObject {
  if (Array.isArray(value)) fail('Start of list found where not expected');
  if (!isPlainObject(value)) fail('Expected null');
  const members = shape.members ?? {};
  const out: PlainObject = {};
  for (const [name, raw] of Object.entries(value)) {
    const ref = Object.hasOwn(members, name) ? members[name] : undefined;
    if (ref === undefined) continue;
    const decoded = decodeValue(raw, shapeOf(ref.shape), wire);
    if (decoded !== undefined) out[name] = decoded;
  }
  return out;
}

/** List elements keep their position; a null element stays null so validation can report it. */
function decodeList(value: unknown, shape: ShapeDef, wire: Wire): unknown[] {
  if (isPlainObject(value)) fail('Start of structure or map found where not expected.');
  if (!Array.isArray(value)) fail('Expected list or null');
  const memberShape = shapeOf(shape.member ?? '');
  return value.map((element) => decodeValue(element, memberShape, wire) ?? null);
}

function decodeMap(value: unknown, shape: ShapeDef, wire: Wire): PlainObject {
  if (Array.isArray(value)) fail('Start of list found where not expected');
  if (!isPlainObject(value)) fail('Expected map or null');
  const valueShape = shapeOf(shape.value ?? '');
  const out: PlainObject = {};
  for (const [key, raw] of Object.entries(value)) {
    // defineProperty keeps keys such as "__proto__" as ordinary entries.
    const decoded = decodeValue(raw, valueShape, wire) ?? null;
    Object.defineProperty(out, key, { value: decoded, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Strings the service accepts for a boolean member. */
const BOOLEAN_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['true', true],
  ['false', false],
  ['yes', true],
  ['no', false],
  ['1', true],
  ['0', false],
]);

function decodeBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const word = BOOLEAN_WORDS.get(value.toLowerCase());
    if (word === undefined) fail(`'${value.toUpperCase()}' can not be converted to an Boolean`);
    return word;
  }
  return scalarMismatch(value, 'an Boolean');
}

const INTEGER_LIMITS: Readonly<Record<string, readonly [number, number]>> = {
  integer: [-(2 ** 31), 2 ** 31 - 1],
  long: [-(2 ** 63), 2 ** 63 - 1],
};
const JAVA_NUMBER_NAMES: Readonly<Record<string, string>> = {
  integer: 'Integer',
  long: 'Long',
  float: 'Float',
  double: 'Double',
};

/** Integral members drop any fraction and saturate at the Java type's bounds, as the service does. */
function decodeNumber(value: unknown, type: string): number {
  if (typeof value !== 'number' && typeof value !== 'bigint') {
    scalarMismatch(value, `an ${JAVA_NUMBER_NAMES[type] ?? type}`);
  }
  const num = Number(value);
  const limits = INTEGER_LIMITS[type];
  if (limits === undefined) return num;
  if (Number.isNaN(num)) return 0;
  return Math.min(Math.max(Math.trunc(num), limits[0]), limits[1]);
}

function decodeBlob(value: unknown): Buffer {
  if (isBytes(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value !== 'string') scalarMismatch(value, 'a Blob');
  return decodeBase64(value);
}

const BASE64_CHAR = /^[A-Za-z0-9+/=]$/;

/** Strict base64, rejecting what the service rejects, with its messages (including its "dectected"). */
function decodeBase64(text: string): Buffer {
  // Fast path for well-formed input (the hot path of PutRecords): Node's decoder skips what is
  // not base64 and accepts the URL alphabet, so the decoded bytes are encoded again; canonical
  // padded base64 is exactly what gives the same text back (cheaper than a regular expression
  // over the text). Anything else takes the slow path below for the service's exact message.
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') === text) return bytes;
  const prefix = `'${text}' can not be converted to a Blob: `;
  if (text.length % 4 !== 0) {
    fail(`${prefix}Base64 encoded length is expected a multiple of 4 bytes but found: ${text.length}`);
  }
  const bad = firstInvalidBase64Char(text);
  if (bad !== undefined) fail(`${prefix}Invalid Base64 character: '${bad}'`);
  // Right length and alphabet, yet not the canonical encoding: stray bits before the padding.
  return fail(`${prefix}Invalid last non-pad Base64 character dectected`);
}

/** The first character outside the alphabet, or a '=' that is followed by anything but more padding. */
function firstInvalidBase64Char(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const char = text.charAt(i);
    if (!BASE64_CHAR.test(char)) return char;
    if (char === '=' && i + 1 < text.length && text.charAt(i + 1) !== '=') return char;
  }
  return undefined;
}

/** Epoch values at or above this are taken as milliseconds on the CBOR wire (1e11 seconds is the year 5138). */
const CBOR_MILLIS_THRESHOLD = 1e11;

function decodeTimestamp(value: unknown, wire: Wire): Date {
  if (value instanceof Date) return wire === 'cbor' ? normalizeCborDate(value) : value;
  if (typeof value !== 'number' && typeof value !== 'bigint') {
    scalarMismatch(value, 'milliseconds since epoch');
  }
  const epoch = Number(value);
  if (wire === 'cbor' && Math.abs(epoch) >= CBOR_MILLIS_THRESHOLD) return new Date(Math.round(epoch));
  return new Date(Math.round(epoch * 1000));
}

/** A CBOR decoder that read an epoch-milliseconds tag 1 as seconds yields a date 1000 times too far out. */
function normalizeCborDate(date: Date): Date {
  const ms = date.getTime();
  return Math.abs(ms) >= CBOR_MILLIS_THRESHOLD * 1000 ? new Date(Math.round(ms / 1000)) : date;
}

// ---------------------------------------------------------------------------------------------------------
// Validation: model constraints -> "Value ... at '...' failed to satisfy constraint: ..." lines.

class Violations {
  readonly lines: string[] = [];

  get full(): boolean {
    return this.lines.length >= MAX_REPORTED_ERRORS;
  }

  /** Records a violation; `value` is only rendered (as `shapeName`) if the line is kept. */
  add(path: string, constraint: string, value: unknown = null, shapeName = ''): void {
    if (this.full) return;
    const shown = value === null || value === undefined ? 'null' : `'${render(value, shapeName)}'`;
    this.lines.push(`Value ${shown} at '${path}' failed to satisfy constraint: ${constraint}`);
  }
}

function validateInput(input: PlainObject, shapeName: string): string[] {
  const violations = new Violations();
  validateStructure(input, shapeOf(shapeName), '', violations);
  return violations.lines;
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function validateStructure(value: PlainObject, shape: ShapeDef, path: string, out: Violations): void {
  for (const [name, ref] of Object.entries(shape.members ?? {})) {
    const memberPath = path === '' ? lowerFirst(name) : `${path}.${lowerFirst(name)}`;
    const member = value[name];
    if (member === undefined || member === null) {
      if (ref.required) out.add(memberPath, NOT_NULL);
    } else {
      validateValue(member, ref.shape, memberPath, out);
    }
  }
}

function validateValue(value: unknown, shapeName: string, path: string, out: Violations): void {
  const shape = shapeOf(shapeName);
  for (const constraint of failedConstraints(value, shape)) out.add(path, constraint, value, shapeName);
  if (shape.type === 'structure') validateStructure(value as PlainObject, shape, path, out);
  if (shape.type === 'list') validateElements(value as unknown[], shapeName, path, out);
  if (shape.type === 'map') validateEntries(value as PlainObject, shapeName, path, out);
}

function isAggregate(shape: ShapeDef): boolean {
  return shape.type === 'structure' || shape.type === 'list' || shape.type === 'map';
}

/** Lists of aggregates are checked element by element; lists of scalars get one summary line. */
function validateElements(list: unknown[], listName: string, path: string, out: Violations): void {
  const memberName = shapeOf(listName).member ?? '';
  const memberShape = shapeOf(memberName);
  if (!isAggregate(memberShape)) {
    if (list.some((element) => !satisfiesAll(element, memberShape))) {
      out.add(path, `Member must satisfy constraint: [${describeConstraints(memberShape)}]`, list, listName);
    }
    return;
  }
  for (let i = 0; i < list.length && !out.full; i++) {
    const elementPath = `${path}.${i + 1}.member`;
    const element = list[i];
    if (element === null || element === undefined) out.add(elementPath, NOT_NULL);
    else validateValue(element, memberName, elementPath, out);
  }
}

function validateEntries(map: PlainObject, mapName: string, path: string, out: Violations): void {
  const shape = shapeOf(mapName);
  const keyShape = shapeOf(shape.key ?? '');
  const valueName = shape.value ?? '';
  const valueShape = shapeOf(valueName);
  if (Object.keys(map).some((key) => !satisfiesAll(key, keyShape))) {
    out.add(path, `Map keys must satisfy constraint: [${describeConstraints(keyShape)}]`, map, mapName);
  }
  if (!isAggregate(valueShape)) {
    if (Object.values(map).some((value) => !satisfiesAll(value, valueShape))) {
      out.add(path, `Map value must satisfy constraint: [${describeConstraints(valueShape)}]`, map, mapName);
    }
    return;
  }
  // Entries are visited last to first, as the service reports them.
  for (const [key, value] of Object.entries(map).reverse()) {
    if (out.full) return;
    const entryPath = `${path}.${key}.member`;
    if (value === null || value === undefined) out.add(entryPath, NOT_NULL);
    else validateValue(value, valueName, entryPath, out);
  }
}

function satisfiesAll(value: unknown, shape: ShapeDef): boolean {
  return value !== null && value !== undefined && failedConstraints(value, shape).length === 0;
}

function isNumericType(type: string): boolean {
  return type === 'integer' || type === 'long' || type === 'float' || type === 'double';
}

/** Size used by length constraints: characters, bytes, elements or entries. */
function sizeOf(value: unknown): number | undefined {
  if (typeof value === 'string' || Array.isArray(value) || isBytes(value)) return value.length;
  if (isPlainObject(value)) return Object.keys(value).length;
  return undefined;
}

/** Constraint messages for the checks `value` fails, in the service's order: enum, pattern, length, range. */
function failedConstraints(value: unknown, shape: ShapeDef): string[] {
  const failed: string[] = [];
  if (shape.enum !== undefined && !shape.enum.includes(String(value))) {
    failed.push(enumConstraint(shape.enum));
  }
  if (typeof value === 'string' && !matchesPattern(value, shape)) failed.push(patternConstraint(shape));
  const measure = measureOf(shape);
  const amount = measure === 'value' ? (typeof value === 'number' ? value : undefined) : sizeOf(value);
  if (amount !== undefined && shape.min !== undefined && amount < shape.min) {
    failed.push(`Member must have ${measure} greater than or equal to ${shape.min}`);
  }
  if (amount !== undefined && shape.max !== undefined && amount > shape.max) {
    failed.push(`Member must have ${measure} less than or equal to ${shape.max}`);
  }
  return failed;
}

/** Every constraint of a shape, in the order the service lists them inside "[...]". */
function describeConstraints(shape: ShapeDef): string {
  const measure = measureOf(shape);
  const parts: string[] = [];
  if (shape.max !== undefined) parts.push(`Member must have ${measure} less than or equal to ${shape.max}`);
  if (shape.min !== undefined) {
    parts.push(`Member must have ${measure} greater than or equal to ${shape.min}`);
  }
  if (shape.pattern !== undefined) parts.push(patternConstraint(shape));
  if (shape.enum !== undefined) parts.push(enumConstraint(shape.enum));
  if (parts.length === 0) parts.push(NOT_NULL);
  return parts.join(', ');
}

function measureOf(shape: ShapeDef): 'value' | 'length' {
  return isNumericType(shape.type) ? 'value' : 'length';
}

function enumConstraint(values: string[]): string {
  return `Member must satisfy enum value set: [${javaSetOrder(values).join(', ')}]`;
}

/**
 * The service lists enum values in hash-table order: ascending `String.hashCode() & 31` (the table doubles
 * past 75% load), and reverse model order within a bucket. This reproduces every listing seen from
 * Coral services (see docs/validation-facts.md), including a 13-value one with a bucket collision.
 */
function javaSetOrder(values: string[]): string[] {
  let capacity = 32;
  while (values.length > capacity * 0.75) capacity *= 2;
  const bucket = (value: string): number => stringHash(value) & (capacity - 1);
  return values
    .map((value, index) => ({ value, index }))
    .sort((x, y) => bucket(x.value) - bucket(y.value) || y.index - x.index)
    .map((entry) => entry.value);
}

function patternConstraint(shape: ShapeDef): string {
  return `Member must satisfy regular expression pattern: ${shape.pattern ?? ''}`;
}

/**
 * Some model patterns (the ARNs) backtrack polynomially, so a string that is already longer than both its
 * max length and this limit is not run through its pattern; it is reported for its length only.
 */
const PATTERN_SCAN_LIMIT = 4096;

function matchesPattern(value: string, shape: ShapeDef): boolean {
  if (shape.pattern === undefined) return true;
  if (value.length > Math.max(shape.max ?? Number.POSITIVE_INFINITY, PATTERN_SCAN_LIMIT)) return true;
  return patternFor(shape.pattern).test(value);
}

const PATTERN_CACHE = new Map<string, RegExp>();

/** Model patterns must match the whole value (Java `String.matches`). */
function patternFor(pattern: string): RegExp {
  let regex = PATTERN_CACHE.get(pattern);
  if (regex === undefined) {
    regex = new RegExp(`^(?:${pattern})$`);
    PATTERN_CACHE.set(pattern, regex);
  }
  return regex;
}

// ---------------------------------------------------------------------------------------------------------
// Rendering values the way the service's Java objects print themselves.

function render(value: unknown, shapeName: string): string {
  const shape = shapeOf(shapeName);
  if (value === null || value === undefined) return 'null';
  if (shape.type === 'structure') return renderStructure(value as PlainObject, shapeName);
  if (shape.type === 'list') {
    const member = shape.member ?? '';
    return `[${(value as unknown[]).map((element) => render(element, member)).join(', ')}]`;
  }
  if (shape.type === 'map') {
    const entries = Object.entries(value as PlainObject);
    return `{${entries.map(([key, entry]) => `${key}=${render(entry, shape.value ?? '')}`).join(', ')}}`;
  }
  if (isBytes(value)) return `java.nio.HeapByteBuffer[pos=0 lim=${value.length} cap=${value.length}]`;
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/** Java's default Object.toString: class name and hex hash code. */
function renderStructure(value: PlainObject, shapeName: string): string {
  return `${JAVA_PACKAGE}.${shapeName}@${(structureHash(value, shapeOf(shapeName)) >>> 0).toString(16)}`;
}

/** Assumed generated-model hashCode: 1 plus the sum of the member hash codes (matches the one sample seen). */
function structureHash(value: PlainObject, shape: ShapeDef): number {
  let hash = 1;
  for (const [name, ref] of Object.entries(shape.members ?? {})) {
    hash = (hash + javaHash(value[name], ref.shape)) | 0;
  }
  return hash;
}

/** Java hashCode of a decoded value, following the JDK definitions for each type. */
function javaHash(value: unknown, shapeName: string): number {
  const shape = shapeOf(shapeName);
  if (value === null || value === undefined) return 0;
  if (typeof value === 'string') return stringHash(value);
  if (typeof value === 'boolean') return value ? 1231 : 1237;
  if (isBytes(value)) return bytesHash(value);
  if (value instanceof Date) return longHash(value.getTime());
  if (typeof value === 'number') return shape.type === 'integer' ? value | 0 : longHash(value);
  if (Array.isArray(value)) {
    return value.reduce<number>(
      (hash, element) => (Math.imul(31, hash) + javaHash(element, shape.member ?? '')) | 0,
      1,
    );
  }
  if (shape.type === 'map') {
    const entries = Object.entries(value as PlainObject);
    return entries.reduce(
      (hash, [key, entry]) => (hash + (stringHash(key) ^ javaHash(entry, shape.value ?? ''))) | 0,
      0,
    );
  }
  return structureHash(value as PlainObject, shape);
}

function stringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(31, hash) + text.charCodeAt(i)) | 0;
  return hash;
}

/** java.nio.ByteBuffer.hashCode: signed bytes folded from the end. */
function bytesHash(bytes: Uint8Array): number {
  let hash = 1;
  for (let i = bytes.length - 1; i >= 0; i--) {
    hash = (Math.imul(31, hash) + (((bytes[i] ?? 0) << 24) >> 24)) | 0;
  }
  return hash;
}

function longHash(value: number): number {
  if (!Number.isFinite(value)) return 0;
  const bits = BigInt.asUintN(64, BigInt(Math.trunc(value)));
  return Number(BigInt.asIntN(32, bits ^ (bits >> 32n)));
}
