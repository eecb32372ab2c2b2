import assert from "node:assert/strict";
import { createRng } from "../../../malmen/data/prng.ts";

Deno.test("`createRng()` gives the same sequence when the seed is the same", () => {
  const a = createRng(123);
  const b = createRng(123);
  const c = createRng(124);
  const seqA = Array.from({ length: 50 }, () => a.nextUint32());
  const seqB = Array.from({ length: 50 }, () => b.nextUint32());
  const seqC = Array.from({ length: 50 }, () => c.nextUint32());
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
});

Deno.test("`createRng()` stays in range and roughly uniform", () => {
  const rng = createRng(7);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 20_000; i++) {
    const f = rng.nextFloat();
    assert.ok(f >= 0 && f < 1);
    counts[rng.nextInt(10)]++;
  }
  for (const c of counts) assert.ok(c > 1700 && c < 2300, `bucket count ${c}`);
});

Deno.test("`createRng()` shuffles into a permutation and picks members", () => {
  const rng = createRng(9);
  const items = Array.from({ length: 30 }, (_, i) => i);
  const shuffled = rng.shuffle([...items]);
  assert.notDeepEqual(shuffled, items);
  assert.deepEqual([...shuffled].sort((x, y) => x - y), items);
  assert.ok(items.includes(rng.pick(items)));
});

Deno.test("`createRng()` throws RangeError when the seed or bound is invalid", () => {
  assert.throws(() => createRng(-1), RangeError);
  assert.throws(() => createRng(1.5), RangeError);
  assert.throws(() => createRng(2 ** 32), RangeError);
  assert.throws(() => createRng(1).nextInt(0), RangeError);
  assert.throws(() => createRng(1).pick([]), RangeError);
});
