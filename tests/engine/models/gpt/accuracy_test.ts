import { deepStrictEqual as assertEquals, ok, throws as assertThrows } from "node:assert/strict";
import { bothBackendsTest, gpuTest } from "../../../_gpu.ts";
import { type Backend, CPU } from "../../../../engine/backend.ts";
import { tensor } from "../../../../engine/ops/creation.ts";
import { memoryStats } from "../../../../engine/memory.ts";
import { disposeBatch, editBatch } from "../../../../engine/models/gpt/batch.ts";
import { answerAccuracy, readAnswerAccuracy } from "../../../../engine/models/gpt/accuracy.ts";
import { seeded, seededInts } from "./_fixtures.ts";

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
  // The same logits at the supervised positions only, `[n, V]`, must score the same.
  const rows = tensor(atRows(values, batch.hostPositions), [batch.hostPositions.length, V], {
    backend,
  });
  assertEquals(await readAnswerAccuracy(rows, batch), acc);
  rows.dispose();
  logits.dispose();
  disposeBatch(batch);
  return acc;
}

// Host gather of `[B·T, V]` rows.
function atRows(values: ArrayLike<number>, positions: ArrayLike<number>): number[] {
  return Array.from(positions).flatMap((p) => Array.from(values).slice(p * V, (p + 1) * V));
}

Deno.test("`readAnswerAccuracy()` averages argmax hits over each example's answer tokens, from `[B,T,V]` or `[n,V]` logits", async () => {
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

bothBackendsTest(
  `\`answerAccuracy()\` on \`[n,V]\` rows equals it on the full logits, many examples`,
  async (backend) => {
    // 12 examples with prompts of 1–5 tokens and answers of 1–4, so T varies by row and
    // most examples have several answer tokens.
    const lens = seededInts(24, 4, 3);
    const toks = seededInts(12 * 9, V, 4);
    const pairs = Array.from({ length: 12 }, (_, i) => ({
      prompt: toks.slice(i * 9, i * 9 + 1 + lens[2 * i] + (i % 2)),
      answer: toks.slice(i * 9 + 5, i * 9 + 6 + lens[2 * i + 1]),
    }));
    const batch = editBatch(pairs, { backend });
    const t = batch.length;
    // Labels win in about half the rows, so accuracies are spread over [0, 1].
    const values = seeded([12, t, V], 8, -1, 1);
    const pick = seededInts(12 * t, 2, 9);
    for (let r = 0; r < 12 * t; r++) {
      const label = batch.hostLabels[r];
      if (label >= 0 && pick[r] === 1) values[r * V + label] = 3;
    }
    const full = tensor(values, [12, t, V], { backend });
    const rows = tensor(atRows(values, batch.hostPositions), [batch.hostPositions.length, V], {
      backend,
    });
    const a = await readAnswerAccuracy(full, batch);
    const b = await readAnswerAccuracy(rows, batch);
    assertEquals(b, a);
    ok(batch.counts.filter((c) => c > 1).length >= 6, `counts ${batch.counts}`);
    ok(new Set(a).size >= 3, `accuracies ${a}`);
    // Exact reference from the host values.
    const want = batch.counts.map((c, i) => {
      let hits = 0;
      for (let p = 0; p < t; p++) {
        const r = i * t + p;
        const label = batch.hostLabels[r];
        if (label < 0) continue;
        const row = Array.from(values.slice(r * V, (r + 1) * V));
        if (row.indexOf(Math.max(...row)) === label) hits++;
      }
      return hits / c;
    });
    const tol = backend.kind === "cpu" ? 1e-12 : 1e-6;
    a.forEach((x, i) => ok(Math.abs(x - want[i]) <= tol, `example ${i}: ${x} vs ${want[i]}`));
    full.dispose();
    rows.dispose();
    disposeBatch(batch);
  },
);
