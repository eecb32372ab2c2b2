/**
 * Teacher-forced scoring of (prompt, answer) pairs on the device: per-example token-level top-1
 * accuracy on the answer tokens (MALMEN's ES/GS/LS measure) and the summed negative
 * log-likelihood of the answer (CounterFact's probability comparisons), from one forward pass per
 * batch and one readback for everything.
 * @module
 */
import { noGrad } from "../../engine/autograd.ts";
import { concat } from "../../engine/ops/concat.ts";
import { crossEntropy } from "../../engine/ops/loss.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { reshape } from "../../engine/ops/view.ts";
import { upload } from "../../engine/alloc.ts";
import { keep, tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { answerAccuracy } from "../../engine/models/gpt/accuracy.ts";
import { disposeBatch, editBatch, type PromptAnswer } from "../../engine/models/gpt/batch.ts";

/** Per-pair scores. */
export interface PairStats {
  /** Fraction of answer tokens predicted exactly (argmax). */
  acc: number[];
  /** −log P(answer | prompt), summed over the answer tokens. */
  nll: number[];
}

/**
 * Scores many pairs: batched forwards, one readback.
 * @param model The model (with whatever shifts are set).
 * @param pairs Prompt/answer ids.
 * @param batchSize Examples per forward pass.
 * @returns Accuracy and NLL per pair, in order.
 */
export async function pairStats(
  model: GPT,
  pairs: readonly PromptAnswer[],
  batchSize = 128,
): Promise<PairStats> {
  if (pairs.length === 0) return { acc: [], nll: [] };
  const accs: Tensor[] = [];
  const nlls: Tensor[] = [];
  for (let i = 0; i < pairs.length; i += batchSize) {
    const batch = editBatch(pairs.slice(i, i + batchSize), {
      backend: model.backend,
      maxLength: model.config.nCtx,
    });
    // Per-example sums of the per-row losses as one product with a 0/1 [B, n] matrix.
    const n = batch.hostPositions.length;
    const owner = new Float32Array(batch.batchSize * n);
    batch.hostPositions.forEach((p, r) => owner[Math.floor(p / batch.length) * n + r] = 1);
    noGrad(() =>
      tidy(() => {
        const logits = model.forward(batch.ids, { at: batch.positions });
        accs.push(keep(answerAccuracy(logits, batch)));
        const rowNll = crossEntropy(logits, batch.targets, { reduction: "none" });
        const perExample = matmul(
          upload(owner, [batch.batchSize, n], "float32", model.backend),
          reshape(rowNll, [n, 1]),
        );
        nlls.push(keep(reshape(perExample, [batch.batchSize])));
      })
    );
    disposeBatch(batch);
  }
  const [acc, nll] = noGrad(() => [concat(accs, 0), concat(nlls, 0)]);
  const [a, n] = await Promise.all([acc.toArray(), nll.toArray()]);
  for (const t of [...accs, ...nlls, acc, nll]) t.dispose();
  return { acc: Array.from(a), nll: Array.from(n) };
}

/**
 * Per-example answer accuracy.
 * @param pairs Prompt/answer ids.
 * @param batchSize Examples per forward pass.
 * @returns One accuracy per pair.
 */
export async function pairAccuracies(
  model: GPT,
  pairs: readonly PromptAnswer[],
  batchSize = 128,
): Promise<number[]> {
  return (await pairStats(model, pairs, batchSize)).acc;
}

/**
 * Mean answer accuracy.
 * @param pairs Prompt/answer ids.
 * @param batchSize Examples per forward pass.
 * @returns The mean in [0, 1] (0 for no pairs).
 */
export async function meanAccuracy(
  model: GPT,
  pairs: readonly PromptAnswer[],
  batchSize = 128,
): Promise<number> {
  const a = await pairAccuracies(model, pairs, batchSize);
  return a.length === 0 ? 0 : a.reduce((s, x) => s + x, 0) / a.length;
}
