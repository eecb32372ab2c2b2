import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { gpuTest } from "../../../_gpu.ts";
import { type Backend, CPU } from "../../../../engine/backend.ts";
import { tensor } from "../../../../engine/ops/creation.ts";
import { memoryStats } from "../../../../engine/memory.ts";
import { disposeBatch, editBatch } from "../../../../engine/models/gpt/batch.ts";
import { answerAccuracy, readAnswerAccuracy } from "../../../../engine/models/gpt/accuracy.ts";
import { seeded } from "./_fixtures.ts";

const V = 7;

// Three examples; logits are random except where a test forces the winner.
async function scenario(backend: Backend): Promise<number[]> {
  const batch = editBatch([
    { prompt: [1, 2], answer: [3, 4, 5] }, // positions 1, 2, 3
    { prompt: [1], answer: [6] }, // position 0
    { prompt: [1, 2, 3], answer: [0, 2] }, // positions 2, 3
  ], { backend });
  const t = batch.length;
  const values = seeded([3, t, V], 5, -1, 1);
  const set = (b: number, pos: number, winner: number, value = 5): void => {
    values[(b * t + pos) * V + winner] = value;
  };
  set(0, 1, 3); // right
  set(0, 2, 1); // wrong
  set(0, 3, 5); // right
  set(1, 0, 6); // right
  set(2, 2, 0); // right
  set(2, 3, 1); // tie between 1 and the label 2: argmax takes the first, so wrong
  set(2, 3, 2);
  const logits = tensor(values, [3, t, V], { backend });
  const acc = await readAnswerAccuracy(logits, batch);
  logits.dispose();
  disposeBatch(batch);
  return acc;
}

Deno.test("`readAnswerAccuracy()` averages argmax hits over each example's answer tokens", async () => {
  const acc = await scenario(CPU);
  assertEquals(acc, [2 / 3, 1, 1 / 2]);
});

gpuTest(
  "`readAnswerAccuracy()` on WebGPU matches the reference and frees its temporaries",
  async (gpu) => {
    const before = memoryStats(gpu).liveTensors;
    const acc = await scenario(gpu);
    assertEquals(
      Array.from(Float32Array.from(acc)),
      Array.from(Float32Array.from([2 / 3, 1, 1 / 2])),
    );
    assertEquals(memoryStats(gpu).liveTensors, before);
  },
);

Deno.test("`answerAccuracy()` rejects logits of another batch shape", () => {
  const batch = editBatch([{ prompt: [1], answer: [2] }], { backend: CPU });
  const logits = tensor(seeded([2, 1, V], 1), [2, 1, V], { backend: CPU });
  assertThrows(() => answerAccuracy(logits, batch), /needs logits "\[1,1,V\]"/);
});
