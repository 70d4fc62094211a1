import { isUtf8 } from 'node:buffer';
import type { Wire } from '../api/validation.js';
import { cborCodec } from './cbor.js';
import { encodeJson, jsonContentType } from './json.js';

/**
 * A wire protocol: how request bodies are parsed and responses and errors encoded. The handler
 * picks the codec by the request's Content-Type; everything after parsing is wire-neutral
 * (blobs are Buffers and timestamps Dates once src/api/validation.ts has decoded the input).
 */
export interface WireCodec {
  /** Request content types served (lower case, without parameters). */
  contentTypes: string[];
  /** How validation reads blobs and timestamps of this wire. */
  wire: Wire;
  /** Content-Type of responses. */
  responseContentType: string;
  /** The parsed body; throws on a malformed one. */
  parse(body: Buffer): unknown;
  encode(output: unknown): Buffer | string;
  /** An error body; `Message` is the key the service uses for type errors, else `message`. */
  encodeError(type: string, message: string | undefined, key: 'message' | 'Message'): Buffer | string;
}

export const jsonCodec: WireCodec = {
  contentTypes: [jsonContentType, 'application/json'],
  wire: 'json',
  responseContentType: jsonContentType,
  // Invalid UTF-8 is refused rather than silently replaced with U+FFFD.
  parse: (body) => {
    if (!isUtf8(body)) throw new SyntaxError('request body is not valid UTF-8');
    return JSON.parse(body.toString('utf8'));
  },
  encode: encodeJson,
  encodeError: (type, message, key) =>
    JSON.stringify(message ? { __type: type, [key]: message } : { __type: type }),
};

/** Every codec the server speaks; the first is the default for error bodies. */
export const codecs: WireCodec[] = [jsonCodec, cborCodec];

export function codecFor(contentType: string): WireCodec | undefined {
  return codecs.find((c) => c.contentTypes.includes(contentType));
}
