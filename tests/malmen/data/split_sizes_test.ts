import assert from "node:assert/strict";
import { splitCounts } from "../../../malmen/data/split_sizes.ts";

const FRACTIONS = { train: 0.5, val: 0.1, edit: 0.32, locality: 0.08 };

Deno.test("`splitCounts()` sums to n and follows the fractions", () => {
  assert.deepEqual(splitCounts(280, FRACTIONS, "person"), {
    train: 140,
    val: 28,
    edit: 90,
    locality: 22,
  });
  for (let n = 4; n < 100; n++) {
    const c = splitCounts(n, FRACTIONS, "x");
    assert.equal(c.train + c.val + c.edit + c.locality, n);
    for (const v of Object.values(c)) assert.ok(v >= 1);
  }
});

Deno.test("`splitCounts()` gives every positive split a subject when the kind is small", () => {
  assert.deepEqual(splitCounts(4, FRACTIONS, "country"), {
    train: 1,
    val: 1,
    edit: 1,
    locality: 1,
  });
  assert.deepEqual(splitCounts(0, FRACTIONS, "c"), { train: 0, val: 0, edit: 0, locality: 0 });
  assert.deepEqual(splitCounts(3, { train: 0.9, val: 0, edit: 0, locality: 0.1 }, "c"), {
    train: 2,
    val: 0,
    edit: 0,
    locality: 1,
  });
});

Deno.test("`splitCounts()` throws RangeError when there are fewer subjects than splits", () => {
  assert.throws(() => splitCounts(3, FRACTIONS, "country"), {
    name: "RangeError",
    message: 'Need at least "4" country subjects to fill every split, got "3"',
  });
});
