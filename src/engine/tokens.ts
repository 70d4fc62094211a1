import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Opaque, tamper-evident tokens (shard iterators, pagination tokens): the payload is sealed with
 * AES-256-GCM under a key shared through the store, so any frontend over the same store can open
 * what another issued, and any change to a token makes it fail to open.
 */
export class TokenSealer {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('token key must be 32 bytes');
  }

  seal(payload: Buffer): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(payload), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  /** The payload, or undefined when the token is malformed or was not sealed with this key. */
  open(token: string): Buffer | undefined {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return undefined;
    const raw = Buffer.from(token, 'base64');
    if (raw.length < 29) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
    } catch {
      return undefined;
    }
  }
}

/** What a shard iterator carries: where to read next, for which stream incarnation and shard. */
export interface IteratorState {
  streamName: string;
  streamKey: number;
  shard: number;
  position: number;
  issuedMs: number;
}

const iteratorTag = 0x49; // 'I': keeps a pagination token from opening as an iterator
const iteratorFixedBytes = 29;

export function sealIterator(sealer: TokenSealer, state: IteratorState): string {
  const name = Buffer.from(state.streamName, 'utf8');
  const payload = Buffer.alloc(iteratorFixedBytes + name.length);
  payload.writeUInt8(iteratorTag, 0);
  payload.writeDoubleBE(state.streamKey, 1);
  payload.writeUInt32BE(state.shard, 9);
  payload.writeDoubleBE(state.position, 13);
  payload.writeDoubleBE(state.issuedMs, 21);
  name.copy(payload, iteratorFixedBytes);
  return sealer.seal(payload);
}

export function openIterator(sealer: TokenSealer, token: string): IteratorState | undefined {
  const payload = sealer.open(token);
  if (!payload || payload.length < iteratorFixedBytes || payload.readUInt8(0) !== iteratorTag)
    return undefined;
  return {
    streamKey: payload.readDoubleBE(1),
    shard: payload.readUInt32BE(9),
    position: payload.readDoubleBE(13),
    issuedMs: payload.readDoubleBE(21),
    streamName: payload.subarray(iteratorFixedBytes).toString('utf8'),
  };
}

const pageTag = 0x50; // 'P'

/** Pagination tokens carry a small JSON object. */
export function sealPage(sealer: TokenSealer, state: object): string {
  return sealer.seal(Buffer.concat([Buffer.from([pageTag]), Buffer.from(JSON.stringify(state))]));
}

export function openPage<T>(sealer: TokenSealer, token: string): T | undefined {
  const payload = sealer.open(token);
  if (!payload || payload.readUInt8(0) !== pageTag) return undefined;
  try {
    return JSON.parse(payload.subarray(1).toString()) as T;
  } catch {
    return undefined;
  }
}
