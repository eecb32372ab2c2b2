import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { CPU } from "../../../../engine/backend.ts";
import { disposeBatch, editBatch, lmBatch } from "../../../../engine/models/gpt/batch.ts";

Deno.test("`editBatch()` supervises positions P−1 … P+T−2 with labels aligned to logits", async () => {
  const b = editBatch([
    { prompt: [10, 11, 12], answer: [20, 21] },
    { prompt: [13], answer: [22, 23, 24] },
    { prompt: [14, 15, 16, 17], answer: [25] },
  ], { padId: 99, backend: CPU });
  assertEquals([b.batchSize, b.length], [3, 4]);
  assertEquals(Array.from(await b.ids.toArray()), [
    10,
    11,
    12,
    20, //
    13,
    22,
    23,
    99,
    14,
    15,
    16,
    17,
  ]);
  assertEquals(Array.from(await b.labels.toArray()), [
    -100,
    -100,
    20,
    21, //
    22,
    23,
    24,
    -100,
    -100,
    -100,
    -100,
    25,
  ]);
  // Example 0: P = 3, T = 2 → 2, 3; example 1: P = 1, T = 3 → 0, 1, 2; example 2: P = 4 → 3.
  assertEquals(Array.from(b.hostPositions), [2, 3, 4 + 0, 4 + 1, 4 + 2, 8 + 3]);
  assertEquals(Array.from(await b.positions.toArray()), Array.from(b.hostPositions));
  assertEquals(b.counts, [2, 3, 1]);
  disposeBatch(b);
});

Deno.test("`editBatch()` rejects empty prompts and answers and rows over the length limit", () => {
  assertThrows(() => editBatch([{ prompt: [], answer: [1] }], { backend: CPU }), /empty prompt/);
  assertThrows(() => editBatch([{ prompt: [1], answer: [] }], { backend: CPU }), /empty answer/);
  assertThrows(
    () => editBatch([{ prompt: [1, 2, 3], answer: [4, 5] }], { maxLength: 3, backend: CPU }),
    /Example 0 needs 4 positions, more than the limit 3/,
  );
  assertThrows(() => editBatch([], { backend: CPU }), /zero examples/);
});

Deno.test("`lmBatch()` predicts the next token at every real position", async () => {
  const b = lmBatch([[1, 2, 3, 4], [5, 6]], { backend: CPU });
  assertEquals(Array.from(await b.ids.toArray()), [1, 2, 3, 5, 0, 0]);
  assertEquals(Array.from(await b.labels.toArray()), [2, 3, 4, 6, -100, -100]);
  assertEquals(Array.from(b.hostPositions), [0, 1, 2, 3]);
  assertThrows(() => lmBatch([[1]], { backend: CPU }), /needs 2/);
  disposeBatch(b);
});

Deno.test("`batch.targets` are the labels at `batch.positions` and `disposeBatch()` frees them", async () => {
  const check = async (b: ReturnType<typeof editBatch>, want: number[]): Promise<void> => {
    const labels = Array.from(await b.labels.toArray());
    const targets = Array.from(await b.targets.toArray());
    assertEquals(b.targets.dtype, "int32");
    assertEquals(b.targets.shape, [b.hostPositions.length]);
    assertEquals(targets, Array.from(b.hostPositions, (p) => labels[p]));
    assertEquals(targets, want);
    disposeBatch(b);
    for (const t of [b.ids, b.labels, b.positions, b.targets]) assertEquals(t.disposed, true);
  };
  // Answers in order, example by example, multi-token ones included.
  await check(
    editBatch([
      { prompt: [10, 11, 12], answer: [20, 21] },
      { prompt: [13], answer: [22, 23, 24] },
      { prompt: [14, 15, 16, 17], answer: [25] },
    ], { padId: 99, backend: CPU }),
    [20, 21, 22, 23, 24, 25],
  );
  await check(lmBatch([[1, 2, 3, 4], [5, 6]], { backend: CPU }), [2, 3, 4, 6]);
});
