/** Sequence numbers: the fast encoder (src/engine/sequence.ts) against the plain BigInt one. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeSequence, encodeSequence, encodeSlowly } from '../src/engine/sequence.js';

test('encodeSequence writes the same digits as the BigInt computation, and decodes back', () => {
  const parts = fc.record({
    arrivalMs: fc.oneof(fc.integer({ min: 0, max: 2 ** 44 - 1 }), fc.constant(Date.now())),
    shard: fc.oneof(fc.integer({ min: 0, max: 2 ** 24 - 1 }), fc.integer({ min: 0, max: 70 })),
    position: fc.oneof(
      fc.integer({ min: -1, max: 10_000 }),
      fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER - 1 }),
      fc.integer({ min: 2 ** 52 - 10, max: 2 ** 52 + 10 }),
    ),
  });
  fc.assert(
    fc.property(parts, (p) => {
      const fast = encodeSequence(p);
      assert.equal(fast, encodeSlowly(p));
      assert.deepEqual(decodeSequence(fast), { ...p });
    }),
    { numRuns: 20_000 },
  );
});

test('positions that carry into the digits above the low fifteen', () => {
  // Find a prefix whose low fifteen digits are close to 10^15, then cross it.
  for (let shard = 0; shard < 5000; shard++) {
    const arrivalMs = 1_700_000_000_000;
    const base = encodeSlowly({ arrivalMs, shard, position: -1 });
    const low = Number(base.slice(-15));
    const gap = 10 ** 15 - low;
    if (gap > 2 ** 52) continue;
    for (const position of [gap - 2, gap - 1, gap, gap + 1]) {
      assert.equal(
        encodeSequence({ arrivalMs, shard, position }),
        encodeSlowly({ arrivalMs, shard, position }),
      );
    }
    return;
  }
  assert.fail('no prefix near a carry was found');
});
