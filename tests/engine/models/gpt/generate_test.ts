import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual as assertNotEquals,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";
import { bothBackendsTest } from "../../../_gpu.ts";
import { CPU } from "../../../../engine/backend.ts";
import { noGrad } from "../../../../engine/autograd.ts";
import { rng, tensor } from "../../../../engine/ops/creation.ts";
import { generate, sampleTopK } from "../../../../engine/models/gpt/generate.ts";
import type { GPT } from "../../../../engine/models/gpt/model.ts";
import { randomModel, SMALL } from "./_models.ts";

// Greedy decoding by hand: full forward, argmax of the last row.
async function greedyByHand(model: GPT, prompt: number[], n: number): Promise<number[]> {
  const tokens = [...prompt];
  for (let i = 0; i < n; i++) {
    const ctx = tokens.slice(-model.config.nCtx);
    const ids = tensor(ctx, [1, ctx.length], { backend: model.backend, dtype: "int32" });
    const v = await noGrad(() => model.logits(ids)).toArray();
    const last = Array.from(v.slice((ctx.length - 1) * SMALL.vocabSize));
    tokens.push(last.indexOf(Math.max(...last)));
  }
  return tokens.slice(prompt.length);
}

bothBackendsTest(`\`generate()\` decodes greedily past the context length`, async (backend) => {
  const model = randomModel(SMALL, backend, 3);
  // 8 prompt tokens + 6 new ones cross the 11-token context: the window slides.
  const prompt = [1, 5, 9, 2, 7, 30, 4, 8];
  const got = await generate(model, prompt, { maxNewTokens: 6 });
  assertEquals(got, await greedyByHand(model, prompt, 6));
  model.dispose();
});

bothBackendsTest(`\`generate()\` samples top-k deterministically from a seed`, async (backend) => {
  const model = randomModel(SMALL, backend, 4);
  const opts = { maxNewTokens: 12, topK: 5, temperature: 2 };
  const a = await generate(model, [3, 1], { ...opts, seed: 7 });
  assertEquals(await generate(model, [3, 1], { ...opts, seed: 7 }), a);
  assertNotEquals(await generate(model, [3, 1], { ...opts, seed: 8 }), a);
  assertEquals(a.length, 12);
  model.dispose();
});

Deno.test("`generate()` stops after a stop token and validates its options", async () => {
  const model = randomModel(SMALL, CPU, 5);
  const first = (await generate(model, [2], { maxNewTokens: 1 }))[0];
  assertEquals(await generate(model, [2], { maxNewTokens: 5, stopTokens: [first] }), [first]);
  await assertRejects(() => generate(model, [], { maxNewTokens: 1 }), /empty prompt/);
  await assertRejects(
    () => generate(model, [99], { maxNewTokens: 1 }),
    /outside the vocabulary of 37/,
  );
  await assertRejects(() => generate(model, [1], { maxNewTokens: 1, topK: 0 }), /topK must be/);
  model.dispose();
});

Deno.test("`sampleTopK()` only returns one of the k largest logits, in proportion", () => {
  const logits = [0, 3, -1, 3 + Math.log(3), 1];
  const next = rng(1);
  const counts = new Map<number, number>();
  for (let i = 0; i < 4000; i++) {
    const j = sampleTopK(logits, 2, 1, next);
    counts.set(j, (counts.get(j) ?? 0) + 1);
  }
  assertEquals([...counts.keys()].sort(), [1, 3]);
  // p(3) = 3/4.
  const share = counts.get(3)! / 4000;
  assertEquals(Math.abs(share - 0.75) < 0.03, true);
  assertThrows(() => sampleTopK([NaN, NaN], 1, 1, next), /all NaN/);
});
