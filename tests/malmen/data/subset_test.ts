import assert from "node:assert/strict";
import { takeFirst } from "../../../malmen/data/subset.ts";

Deno.test("`takeFirst()` returns a prefix copy, or everything when m exceeds the length", () => {
  const records = [1, 2, 3];
  const first = takeFirst(records, 2);
  assert.deepEqual(first, [1, 2]);
  first.push(9);
  assert.deepEqual(records, [1, 2, 3]);
  assert.deepEqual(takeFirst(records, 10), [1, 2, 3]);
  assert.deepEqual(takeFirst(records, 0), []);
});

Deno.test("`takeFirst()` throws RangeError when m is negative or fractional", () => {
  assert.throws(() => takeFirst([1], -1), RangeError);
  assert.throws(() => takeFirst([1], 1.5), {
    name: "RangeError",
    message: 'Subset size must be a non-negative integer, got "1.5"',
  });
});
