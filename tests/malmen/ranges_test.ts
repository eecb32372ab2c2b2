// Ranges of numeric settings: described in words, checked exactly at their bounds.
import { deepStrictEqual, throws } from "node:assert/strict";
import { describeRange, inRange, RANGES, requireInRange } from "../../malmen/ranges.ts";

Deno.test("`describeRange()` says the range in words", () => {
  deepStrictEqual(describeRange({}), "a number");
  deepStrictEqual(describeRange(RANGES.count), "an integer ≥ 1");
  deepStrictEqual(describeRange(RANGES.lr), "a number > 0 and ≤ 1");
  deepStrictEqual(describeRange(RANGES.seed), "an integer ≥ 0 and ≤ 4294967295");
});

Deno.test("`inRange()` holds exactly at inclusive bounds and not at exclusive ones", () => {
  const cases: [number, boolean][] = [[0, false], [1e-300, true], [1, true], [1.0000001, false]];
  deepStrictEqual(cases.map(([x]) => inRange(x, RANGES.lr)), cases.map(([, ok]) => ok));
  deepStrictEqual([1, 0, 2.5, -1].map((x) => inRange(x, RANGES.count)), [
    true,
    false,
    false,
    false,
  ]);
  deepStrictEqual([NaN, Infinity, -Infinity].map((x) => inRange(x, {})), [false, false, false]);
  deepStrictEqual([0, 1, 0.5, -0.01].map((x) => inRange(x, RANGES.fraction)), [
    true,
    true,
    true,
    false,
  ]);
});

Deno.test("`requireInRange()` skips undefined options and names the first bad one", () => {
  requireInRange("f()", { a: [undefined, RANGES.count], b: [3, RANGES.count] });
  throws(
    () => requireInRange("f()", { a: [2, RANGES.count], b: [0.5, RANGES.count] }),
    (e: Error) => e instanceof RangeError && e.message === "f(): b must be an integer ≥ 1, got 0.5",
  );
});
