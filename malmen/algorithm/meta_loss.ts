/**
 * Phase C's losses on the edited LM (MALMEN's meta-loss): generalisation = token-mean cross-entropy of
 * the equivalent (paraphrase) tuples per LM mini-batch; locality = KL(p_unedited ‖ p_edited) at
 * the answer positions of the unrelated tuples, averaged over those positions. Both are summed
 * over mini-batches. Each mini-batch is back-propagated at once, so only one batch of LM
 * activations is alive at a time.
 * @module
 */
import { noGrad } from "../../engine/autograd.ts";
import { add, exp, mul, sub } from "../../engine/ops/elementwise.ts";
import { gather } from "../../engine/ops/gather.ts";
import { logSoftmax } from "../../engine/ops/softmax.ts";
import { sum } from "../../engine/ops/reduce.ts";
import { reshape } from "../../engine/ops/view.ts";
import { keep, tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { lmLoss } from "../../engine/models/gpt/model.ts";
import {
  disposeBatch,
  editBatch,
  type PromptAnswer,
  type TokenBatch,
} from "../../engine/models/gpt/batch.ts";

/**
 * Log-probabilities at a batch's supervised positions.
 * @param logits `[B, T, V]`, or `[n, V]` already at the positions (`forward(ids, { at })`).
 * @returns `[n, V]`.
 */
export function answerLogProbs(logits: Tensor, batch: TokenBatch): Tensor {
  if (logits.rank === 2) return logSoftmax(logits);
  const v = logits.shape[2];
  return logSoftmax(gather(reshape(logits, [-1, v]), batch.positions, 0));
}

/**
 * Logits at a batch's supervised positions only (the output layer runs on those rows alone).
 * @returns `[n, V]`, aligned with `batch.targets`.
 */
export function answerLogits(model: GPT, batch: TokenBatch): Tensor {
  return model.forward(batch.ids, { at: batch.positions });
}

/**
 * KL(p_ref ‖ p) summed over the vocabulary, averaged over rows.
 * @param refLogProbs Reference log-probabilities `[n, V]` (constant).
 * @param logProbs Log-probabilities of the edited model `[n, V]`.
 */
export function klDivergence(refLogProbs: Tensor, logProbs: Tensor): Tensor {
  const n = Math.max(1, refLogProbs.shape[0]);
  return mul(sum(mul(exp(refLogProbs), sub(refLogProbs, logProbs))), 1 / n);
}

/** Which shifts the edited model uses in phase C. */
export type ShiftSetter = (on: boolean) => void;

/**
 * Back-propagates the meta-loss through the edited model mini-batch by mini-batch; gradients
 * land in whatever the edited model's shifts accumulate into (leaves with `requiresGrad`).
 * @param applyShifts Switches the edit on (true) or off (false, for reference logits).
 * @param equiv Equivalent tuples, one list per LM mini-batch.
 * @param unrel Unrelated tuples, one list per LM mini-batch.
 * @param locCoef Weight of the locality term.
 * @returns The meta-loss value (one readback) and its two parts.
 */
export async function backpropMetaLoss(
  model: GPT,
  applyShifts: ShiftSetter,
  equiv: readonly (readonly PromptAnswer[])[],
  unrel: readonly (readonly PromptAnswer[])[],
  locCoef: number,
): Promise<{ loss: number; gen: number; loc: number }> {
  const o = { backend: model.backend, maxLength: model.config.nCtx };
  let gen: Tensor | null = null;
  let loc: Tensor | null = null;
  const accumulate = (total: Tensor | null, part: Tensor): Tensor => {
    if (total === null) return keep(noGrad(() => add(part, 0)));
    const next = keep(noGrad(() => add(total, part)));
    total.dispose();
    return next;
  };
  applyShifts(true);
  for (const mb of equiv) {
    const batch = editBatch(mb, o);
    tidy(() => {
      const l = lmLoss(answerLogits(model, batch), batch.targets);
      l.backward();
      gen = accumulate(gen, l);
    });
    disposeBatch(batch);
  }
  for (const mb of unrel) {
    const batch = editBatch(mb, o);
    applyShifts(false);
    const ref = noGrad(() => tidy(() => answerLogProbs(answerLogits(model, batch), batch)));
    applyShifts(true);
    tidy(() => {
      const l = mul(
        klDivergence(ref, answerLogProbs(answerLogits(model, batch), batch)),
        locCoef,
      );
      l.backward();
      loc = accumulate(loc, l);
    });
    ref.dispose();
    disposeBatch(batch);
  }
  const parts = [gen, loc] as (Tensor | null)[];
  const values = await Promise.all(parts.map((t) => (t ? t.toArray() : Promise.resolve([0]))));
  for (const t of parts) t?.dispose();
  const g = values[0][0];
  const l = values[1][0];
  return { loss: g + l, gen: g, loc: l };
}
