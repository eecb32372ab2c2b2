import { deepStrictEqual, ok } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { GPT } from "../../../engine/models/gpt/model.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import type { PromptAnswer } from "../../../engine/models/gpt/batch.ts";
import { meanAccuracy, pairStats } from "../../../malmen/lm/evaluate.ts";

const V = 13;
const config = gptConfig({
  vocabSize: V,
  nCtx: 9,
  dModel: 8,
  nLayer: 2,
  nHead: 2,
  layerNormEps: 1e-5,
});

// Prompts of 1–5 tokens and answers of 1–3 in the same batches.
const PAIRS: PromptAnswer[] = [
  { prompt: [1, 2, 3], answer: [4] },
  { prompt: [5], answer: [6, 7, 8] },
  { prompt: [9, 10, 11, 12, 1], answer: [2, 3] },
  { prompt: [4, 4], answer: [5, 6, 7] },
  { prompt: [8, 9, 10, 11], answer: [12] },
  { prompt: [3], answer: [3] },
  { prompt: [2, 7, 1, 12], answer: [6, 0, 9] },
];

// One pair at a time: full `[1, L, V]` logits, log-softmax and argmax on the host.
async function reference(model: GPT, p: PromptAnswer): Promise<{ acc: number; nll: number }> {
  const input = [...p.prompt, ...p.answer.slice(0, -1)];
  const logits = noGrad(() =>
    model.forward(tensor(input, [1, input.length], { backend: CPU, dtype: "int32" }))
  );
  const v = Array.from(await logits.toArray());
  logits.dispose();
  let nll = 0;
  let hits = 0;
  p.answer.forEach((label, k) => {
    const row = v.slice((p.prompt.length - 1 + k) * V, (p.prompt.length + k) * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    nll += lse - row[label];
    if (row.indexOf(max) === label) hits++;
  });
  return { acc: hits / p.answer.length, nll };
}

async function check(backend: Backend, batchSize: number): Promise<void> {
  const ref = new GPT(config, { seed: 4, backend: CPU });
  const want = await Promise.all(PAIRS.map((p) => reference(ref, p)));
  const model = backend === CPU ? ref : new GPT(config, { seed: 4, backend });
  const got = await pairStats(model, PAIRS, batchSize);
  const tol = backend.kind === "cpu" ? { atol: 1e-12, rtol: 1e-10 } : { atol: 1e-5, rtol: 1e-4 };
  assertClose(got.nll, want.map((w) => w.nll), tol, "nll");
  deepStrictEqual(got.acc.length, PAIRS.length);
  assertClose(got.acc, want.map((w) => w.acc), { atol: 1e-7, rtol: 0 }, "acc");
  // Not vacuous: several answer tokens per pair make the NLL differ from a single token's, and
  // accuracies are not all equal.
  ok(new Set(got.acc).size >= 2, `acc ${got.acc}`);
  const mean = got.acc.reduce((a, b) => a + b, 0) / got.acc.length;
  assertClose([await meanAccuracy(model, PAIRS, batchSize)], [mean], tol, "mean accuracy");
  if (model !== ref) model.dispose();
  ref.dispose();
}

Deno.test("`pairStats()` sums the answer tokens' cross-entropy per pair, batched or not", async () => {
  await check(CPU, 128); // One batch of every length.
  await check(CPU, 3); // Batches of 3, 3, 1.
});

gpuTest("`pairStats()` on WebGPU matches the float64 per-pair reference", async (gpu) => {
  await check(gpu, 4);
});
