/**
 * The JSON wire's encoder (src/protocol/json.ts): whatever path it takes (JSON.stringify for plain
 * answers, its own writer when blobs or timestamps are inside), it writes what JSON.stringify
 * writes once blobs are base64 strings and timestamps epoch seconds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeJson } from '../src/protocol/json.js';

/** The reference: the same value with blobs and dates replaced, through JSON.stringify. */
function reference(value: unknown): string {
  const replaced = (v: unknown): unknown => {
    if (Buffer.isBuffer(v)) return v.toString('base64');
    if (v instanceof Date) return v.getTime() / 1000;
    if (Array.isArray(v)) return v.map(replaced);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, m]) => [k, replaced(m)]));
    }
    return v;
  };
  return JSON.stringify(replaced(value)) ?? 'null';
}

const leaf = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  fc.date({ noInvalidDate: true }),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('tree'), { maxLength: 6 }),
  object: fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), tie('tree'), { maxKeys: 6 }),
}));

test('encodeJson writes what JSON.stringify writes with blobs as base64 and dates as seconds', () => {
  fc.assert(
    fc.property(tree, (value) => {
      assert.equal(encodeJson(value).toString('utf8'), reference(value));
    }),
    { numRuns: 5_000 },
  );
});

test('a PutRecords answer (plain) and a GetRecords answer (blobs, dates) both come out right', () => {
  const put = {
    FailedRecordCount: 0,
    Records: [{ SequenceNumber: '1', ShardId: 'shardId-000000000000' }, undefined],
    EncryptionType: undefined,
  };
  assert.equal(
    encodeJson(put).toString(),
    '{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"},null]}',
  );
  const get = { Records: [{ Data: Buffer.from('hi'), ApproximateArrivalTimestamp: new Date(1500) }] };
  assert.equal(encodeJson(get).toString(), '{"Records":[{"Data":"aGk=","ApproximateArrivalTimestamp":1.5}]}');
});
