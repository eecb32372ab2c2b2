import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { ARENA_ALIGN, planArena } from "../../../engine/nn/arena_layout.ts";

Deno.test("`planArena()` puts decayed parameters first at 256-byte offsets", () => {
  const plan = planArena([
    { name: "b1", shape: [7] },
    { name: "w1", shape: [5, 7] },
    { name: "s", shape: [] },
    { name: "w2", shape: [7, 3] },
  ]);
  assertEquals(plan.slots.map((s) => [s.name, s.offset, s.size, s.decay]), [
    ["w1", 0, 35, true],
    ["w2", 64, 21, true],
    ["b1", 128, 7, false],
    ["s", 192, 1, false],
  ]);
  assertEquals(plan.segments, [{ length: 256, decayEnd: 128 }]);
  for (const s of plan.slots) assertEquals((s.offset * 4) % 256, 0);
});

Deno.test("`planArena()` honours explicit decay flags over the rank rule", () => {
  const plan = planArena([
    { name: "emb", shape: [3, 3], decay: false },
    { name: "gain", shape: [3], decay: true },
  ]);
  assertEquals(plan.slots.map((s) => s.name), ["gain", "emb"]);
  assertEquals(plan.segments[0].decayEnd, ARENA_ALIGN);
});

Deno.test("`planArena()` splits into segments of at most the aligned cap, never straddling one", () => {
  const plan = planArena([
    { name: "a", shape: [100], decay: true },
    { name: "b", shape: [70], decay: true },
    { name: "c", shape: [10] },
    { name: "d", shape: [130] },
  ], 200);
  assertEquals(plan.slots.map((s) => [s.name, s.segment, s.offset]), [
    ["a", 0, 0],
    ["b", 1, 0],
    ["c", 1, 128],
    ["d", 2, 0],
  ]);
  assertEquals(plan.segments, [
    { length: 128, decayEnd: 128 },
    { length: 192, decayEnd: 128 },
    { length: 192, decayEnd: 0 },
  ]);
});

Deno.test("`planArena()` rejects duplicates and parameters larger than a segment", () => {
  assertThrows(
    () => planArena([{ name: "a", shape: [2] }, { name: "a", shape: [3] }]),
    /"a" is listed twice/,
  );
  assertThrows(
    () => planArena([{ name: "big", shape: [20, 20] }], 256),
    /Parameter "big" of shape "\[20,20\]" \(400 elements\) exceeds the largest arena segment \(256 elements\)/,
  );
});

Deno.test("`planArena()` of no parameters has no segments", () => {
  assertEquals(planArena([]), { slots: [], segments: [] });
});
