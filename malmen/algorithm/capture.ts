/**
 * Phase A of the MALMEN schedule (design §1.2, §3): run the frozen LM on edit tuples, one LM
 * mini-batch at a time, and collect at every edited layer the keys u (inputs of `mlp.c_proj`)
 * and value-gradients δ (∂L_edit/∂ output of `mlp.c_proj`) at the positions that predict
 * answer tokens. L_edit is the token-mean cross-entropy of the mini-batch.
 * @module
 */
import { keep, tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { lmLoss } from "../../engine/models/gpt/model.ts";
import { disposeBatch, editBatch, type PromptAnswer } from "../../engine/models/gpt/batch.ts";

/** The keys and value-gradients of one LM mini-batch at one layer. */
export interface CapturedRows {
  /** Keys u `[n_b, d_in]`. */
  keys: Tensor;
  /** Value-gradients δ `[n_b, d_out]`. */
  valueGrads: Tensor;
}

/**
 * Runs one mini-batch of edit tuples through the model (which must not need parameter
 * gradients; see `GPT.setTrainable(false)`) and returns the captured rows per edited layer, in
 * `layers` order. The caller owns (and disposes) the returned tensors.
 * @param model The LM (shifts as they are: normally none).
 * @param pairs Prompt/answer ids of the mini-batch.
 * @param layers Edited block indices.
 * @returns One entry per layer.
 */
export function captureBatch(
  model: GPT,
  pairs: readonly PromptAnswer[],
  layers: readonly number[],
): CapturedRows[] {
  const batch = editBatch(pairs, { backend: model.backend, maxLength: model.config.nCtx });
  try {
    return tidy(() => {
      const out = model.forward(batch.ids, {
        capture: { layers, positions: batch.positions },
        at: batch.positions,
      });
      lmLoss(out.logits, batch.targets).backward();
      return out.captures.map((c) => {
        const valueGrads = c.valueGrads.grad;
        if (valueGrads === null) throw new Error(`Layer ${c.layer} received no value-gradient`);
        c.valueGrads.grad = null;
        return { keys: keep(c.keys), valueGrads: keep(valueGrads) };
      });
    });
  } finally {
    disposeBatch(batch);
  }
}

/** All captured rows of a meta-step, per edited layer, as a list of mini-batch chunks. */
export interface EditCache {
  /** `chunks[i]` holds layer `layers[i]`'s mini-batches in order. */
  chunks: CapturedRows[][];
  /** Total rows n per layer. */
  rows: number;
}

/**
 * Phase A over all edit tuples, mini-batch by mini-batch.
 * @param model The frozen LM.
 * @param pairs Edit tuples.
 * @param layers Edited layers.
 * @param lmBatch Facts per LM mini-batch.
 * @param onBatch Called with each mini-batch's rows (e.g. to update the normaliser).
 * @returns The cache (caller disposes with {@linkcode disposeCache}).
 */
export function cacheEdits(
  model: GPT,
  pairs: readonly PromptAnswer[],
  layers: readonly number[],
  lmBatch: number,
  onBatch?: (rows: CapturedRows[]) => void,
): EditCache {
  const chunks: CapturedRows[][] = layers.map(() => []);
  let rows = 0;
  for (let i = 0; i < pairs.length; i += lmBatch) {
    const captured = captureBatch(model, pairs.slice(i, i + lmBatch), layers);
    onBatch?.(captured);
    captured.forEach((c, l) => chunks[l].push(c));
    rows += captured[0]?.keys.shape[0] ?? 0;
  }
  return { chunks, rows };
}

/**
 * Releases a cache.
 * @param cache The cache.
 */
export function disposeCache(cache: EditCache): void {
  for (const layer of cache.chunks) {
    for (const c of layer) {
      c.keys.dispose();
      c.valueGrads.dispose();
    }
  }
}
