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
import { matmul } from "../../ops/matmul.ts";
import { reshape } from "../../ops/view.ts";
import { gather } from "../../ops/gather.ts";
import { argmax } from "../../ops/select.ts";
import { IGNORE_INDEX, type TokenBatch } from "./batch.ts";

/**
 * Per-example fraction of supervised positions where the logits' argmax (first maximum on
 * ties) equals the label, as a device tensor. Examples without supervised positions get 0.
 * @param logits `[B, T, V]` for the batch's inputs, or `[n, V]` at its supervised positions
 * only (`model.forward(ids, { at: batch.positions })`).
 * @param batch The batch (its host labels give the mask and the counts).
 * @returns Float `[B]`, owned by the caller; no gradient.
 */
export function answerAccuracy(logits: Tensor, batch: TokenBatch): Tensor {
  const { batchSize: b, length: t } = batch;
  const n = batch.hostPositions.length;
  const v = logits.shape[logits.rank - 1];
  const atRows = logits.rank === 2 && logits.shape[0] === n;
  if (!atRows && (logits.rank !== 3 || logits.shape[0] !== b || logits.shape[1] !== t)) {
    throw new RangeError(
      `Accuracy needs logits "[${b},${t},V]" or "[${n},V]" for this batch, got "${
        fmtShape(logits.shape)
      }"`,
    );
  }
  const backend = logits.backend;
  // Host-side, per scored row: its label as a float, and a [B, rows] matrix of weights
  // 1/count that averages each example's hits in one product.
  const rows = atRows ? n : b * t;
  const labels = new Float64Array(rows);
  const weights = new Float64Array(b * rows);
  for (let r = 0; r < rows; r++) {
    const flat = atRows ? batch.hostPositions[r] : r;
    const label = batch.hostLabels[flat];
    if (label === IGNORE_INDEX) continue;
    const example = Math.floor(flat / t);
    labels[r] = label;
    weights[example * rows + r] = 1 / batch.counts[example];
  }
  return noGrad(() =>
    tidy(() => {
      const best = argmax(reshape(logits, [rows, v]), -1);
      // Integer ids as floats (exact below 2^24): rows of a [V, 1] column 0, 1, …, V−1.
      const column = upload(Array.from({ length: v }, (_, i) => i), [v, 1], "float32", backend);
      const bestF = gather(column, best, 0);
      const hit = elementwise("eq", [bestF, upload(labels, [rows, 1], "float32", backend)]);
      return reshape(matmul(upload(weights, [b, rows], "float32", backend), hit), [b]);
    })
  );
}

/**
 * {@linkcode answerAccuracy} read back to the host (one readback).
 * @param logits `[B, T, V]`.
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
