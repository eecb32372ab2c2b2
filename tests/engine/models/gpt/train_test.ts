import { ok as assert } from "node:assert/strict";
import { gpuTest } from "../../../_gpu.ts";
import { type Backend, CPU } from "../../../../engine/backend.ts";
import { tidy } from "../../../../engine/scope.ts";
import { AdamW } from "../../../../engine/nn/adamw.ts";
import { disposeBatch, lmBatch } from "../../../../engine/models/gpt/batch.ts";
import { GPT } from "../../../../engine/models/gpt/model.ts";
import { seededInts } from "./_fixtures.ts";
import { SMALL } from "./_models.ts";

// Trains on four fixed random sequences; returns the first and last loss.
async function memorise(backend: Backend, steps: number): Promise<[number, number]> {
  const model = new GPT(SMALL, { backend, seed: 1 });
  const opt = new AdamW(model, { lr: 1e-2, weightDecay: 0, maxGradNorm: 1 });
  const seqs = [0, 1, 2, 3].map((s) => seededInts(10, SMALL.vocabSize, 40 + s));
  const batch = lmBatch(seqs, { backend });
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const loss = tidy(() => {
      opt.zeroGrad();
      const l = model.loss(batch.ids, batch.labels);
      l.backward();
      opt.step();
      return l;
    });
    if (i === 0 || i === steps - 1) losses.push(await loss.item());
    loss.dispose();
  }
  disposeBatch(batch);
  model.dispose();
  return [losses[0], losses[1]];
}

Deno.test("`GPT` trains in its parameter arena with AdamW: the loss of fixed sequences drops", async () => {
  const [first, last] = await memorise(CPU, 30);
  assert(first > 3 && last < first / 4, `loss ${first} → ${last}`);
});

gpuTest("`GPT` trains in its parameter arena with AdamW on WebGPU", async (gpu) => {
  const [first, last] = await memorise(gpu, 30);
  assert(first > 3 && last < first / 4, `loss ${first} → ${last}`);
});
