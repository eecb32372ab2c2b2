/**
 * Teacher-forced top-1 accuracy on the supervised (answer) positions of a batch, computed on the
 * device: argmax of the logits against the labels, averaged per example. Only the final
 * per-example numbers are read back.
 * @module
 */
import { upload } from "../../alloc.ts";
import { noGrad } from "../../autograd.ts";
import { tidy } from "../../scope.ts";
import { fmtShape } from "../../shape.ts";
import type { Tensor } from "../../tensor.ts";
import { elementwise } from "../../ops/elementwise.ts";
import { sum } from "../../ops/reduce.ts";
import { reshape } from "../../ops/view.ts";
import { gather } from "../../ops/gather.ts";
import { argmax } from "../../ops/select.ts";
import { IGNORE_INDEX, type TokenBatch } from "./batch.ts";

/**
 * Per-example fraction of supervised positions where the logits' argmax (first maximum on
 * ties) equals the label, as a device tensor. Examples without supervised positions get 0.
 * @param logits `[B, T, V]` for the batch's inputs.
 * @param batch The batch (its host labels give the mask and the counts).
 * @returns Float `[B]`, owned by the caller; no gradient.
 */
export function answerAccuracy(logits: Tensor, batch: TokenBatch): Tensor {
  const { batchSize: b, length: t } = batch;
  const v = logits.shape[logits.rank - 1];
  if (logits.rank !== 3 || logits.shape[0] !== b || logits.shape[1] !== t) {
    throw new RangeError(
      `Accuracy needs logits "[${b},${t},V]" for this batch, got "${fmtShape(logits.shape)}"`,
    );
  }
  const backend = logits.backend;
  // Host-side: label values as floats and per-position weights 1/count on supervised positions.
  const labels = new Float64Array(b * t);
  const weights = new Float64Array(b * t);
  for (let i = 0; i < b * t; i++) {
    const label = batch.hostLabels[i];
    if (label === IGNORE_INDEX) continue;
    labels[i] = label;
    weights[i] = 1 / batch.counts[Math.floor(i / t)];
  }
  return noGrad(() =>
    tidy(() => {
      const best = argmax(reshape(logits, [b * t, v]), -1);
      // Integer ids as floats (exact below 2^24): rows of a [V, 1] column 0, 1, …, V−1.
      const column = upload(Array.from({ length: v }, (_, i) => i), [v, 1], "float32", backend);
      const bestF = gather(column, best, 0);
      const hit = elementwise("eq", [
        reshape(bestF, [b, t]),
        upload(labels, [b, t], "float32", backend),
      ]);
      const weighted = elementwise("mul", [hit, upload(weights, [b, t], "float32", backend)]);
      return sum(weighted, 1);
    })
  );
}

/**
 * {@linkcode answerAccuracy} read back to the host (one readback).
 * @param logits `[B, T, V]`.
 * @param batch The batch.
 * @returns One accuracy in [0, 1] per example.
 */
export async function readAnswerAccuracy(logits: Tensor, batch: TokenBatch): Promise<number[]> {
  const acc = answerAccuracy(logits, batch);
  try {
    return Array.from(await acc.toArray());
  } finally {
    acc.dispose();
  }
}
