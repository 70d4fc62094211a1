/**
 * How the embedded store packs records into chunks: one SQLite row holds consecutive records of
 * one shard that were committed together (src/store/sqlite-core.ts), so a commit writes a row per
 * shard instead of a row per record. All records of a chunk share its arrival time (one commit
 * has one clock reading), and their positions are the chunk's first position onwards.
 *
 * A chunk's body is its records one after the other, each as:
 *   u32 LE data length | u16 LE partition key length in UTF-8 bytes | partition key | data
 * Encryption key ids (rare) live beside the body, one per record or null, as JSON text.
 */

const HEADER_BYTES = 6;

/** One record headed for a chunk. */
export interface ChunkRecord {
  data: Uint8Array;
  partitionKey: string;
  keyId: string | null;
}

/** Records of one shard gathered during a commit, written out as one chunk. */
export class ChunkBuilder {
  readonly records: ChunkRecord[] = [];
  bytes = 0;

  constructor(
    readonly firstPosition: number,
    readonly arrivalMs: number,
  ) {}

  add(record: ChunkRecord): void {
    this.records.push(record);
    this.bytes += HEADER_BYTES + Buffer.byteLength(record.partitionKey) + record.data.length;
  }

  /**
   * The chunk's body and its key ids (null when no record has one). The body is written into
   * `scratch` when it fits (then it is a view of it, valid until the scratch is written again),
   * else into a buffer of its own.
   */
  encode(scratch?: Buffer): { body: Buffer; keyIds: string | null } {
    const body =
      scratch !== undefined && scratch.length >= this.bytes
        ? scratch.subarray(0, this.bytes)
        : Buffer.allocUnsafe(this.bytes);
    let offset = 0;
    let encrypted = false;
    for (const record of this.records) {
      const keyBytes = body.write(record.partitionKey, offset + HEADER_BYTES, 'utf8');
      body.writeUInt32LE(record.data.length, offset);
      body.writeUInt16LE(keyBytes, offset + 4);
      offset += HEADER_BYTES + keyBytes;
      body.set(record.data, offset);
      offset += record.data.length;
      if (record.keyId !== null) encrypted = true;
    }
    const keyIds = encrypted ? JSON.stringify(this.records.map((r) => r.keyId)) : null;
    return { body, keyIds };
  }
}

/** Where one record lies in a chunk's body. */
export interface RecordSpan {
  keyStart: number;
  dataStart: number;
  dataEnd: number;
}

/** The byte offset of record `index` (0-based) in a chunk's body: the body's length past the last. */
export function offsetOf(body: Uint8Array, index: number): number {
  const view = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let offset = 0;
  for (let i = 0; i < index && offset < view.length; i++) {
    offset += HEADER_BYTES + view.readUInt16LE(offset + 4) + view.readUInt32LE(offset);
  }
  return offset;
}

/** The span of the record at `offset`, and the offset of the next one. */
export function spanAt(body: Buffer, offset: number): RecordSpan {
  const keyStart = offset + HEADER_BYTES;
  const dataStart = keyStart + body.readUInt16LE(offset + 4);
  return { keyStart, dataStart, dataEnd: dataStart + body.readUInt32LE(offset) };
}
