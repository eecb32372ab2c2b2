/**
 * Key statistics for a preservation prior in MALMEN's least-squares solve (an extension in the
 * spirit of MEMIT; off by default). The paper's normal equation ΔW = (KᵀK + λI)⁻¹KᵀD spends
 * the same ridge penalty on every direction of key space, so ΔW also moves keys the model uses
 * for facts it should keep. With P = μ·E[uuᵀ] over the keys of the model's own training facts,
 * ΔW = (KᵀK + P + λI)⁻¹KᵀD makes changes along frequently used key directions expensive: the
 * edited facts' own keys are still fitted (they are in KᵀK), their neighbours move less.
 * @module
 */
import { noGrad } from "../../engine/autograd.ts";
import type { PromptAnswer } from "../../engine/models/gpt/batch.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { addInto, mul } from "../../engine/ops/elementwise.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { keep } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { captureStream } from "./capture.ts";
import { clearShifts } from "./shifts.ts";

/**
 * E[uuᵀ] per edited layer over the keys u at the positions that predict answer tokens of
 * `pairs` (typically the LM's training facts), streamed one LM mini-batch at a time.
 * @param model The frozen LM (no shifts).
 * @param pairs Prompt/answer ids.
 * @param layers Edited blocks.
 * @param lmBatch Facts per mini-batch.
 * @returns One `[d_in, d_in]` matrix per layer, in `layers` order (caller disposes).
 */
export function keySecondMoments(
  model: GPT,
  pairs: readonly PromptAnswer[],
  layers: readonly number[],
  lmBatch = 64,
): Tensor[] {
  if (pairs.length === 0) throw new RangeError("Key statistics need at least one fact");
  clearShifts(model);
  const sums: Tensor[] = [];
  let rows = 0;
  for (const captured of captureStream(model, pairs, layers, lmBatch)) {
    captured.forEach((c, l) => {
      const kk = noGrad(() => matmul(c.keys, c.keys, { transA: true }));
      if (sums[l] === undefined) sums[l] = keep(kk);
      else {
        addInto(sums[l], kk);
        kk.dispose();
      }
    });
    rows += captured[0].keys.shape[0];
  }
  return sums.map((s) => {
    const m = keep(noGrad(() => mul(s, 1 / rows)));
    s.dispose();
    return m;
  });
}

/**
 * The prior matrices P = μ·E[uuᵀ] for a weight μ (in "rows": μ preserved keys weigh as much as
 * μ edited ones).
 * @param moments {@linkcode keySecondMoments}'s output.
 * @param weight μ ≥ 0.
 * @returns New tensors (caller disposes).
 */
export function scaledPrior(moments: readonly Tensor[], weight: number): Tensor[] {
  if (!(weight >= 0) || !Number.isFinite(weight)) {
    throw new RangeError(`Key prior weight must be a finite number ≥ 0, got "${weight}"`);
  }
  return moments.map((m) => keep(noGrad(() => mul(m, weight))));
}
