/**
 * Phase A of MALMEN: run the frozen LM on edit tuples, one LM mini-batch at a time, and collect
 * at every edited layer the keys u (inputs of `mlp.c_proj`) and value-gradients δ
 * (∂L_edit/∂ output of `mlp.c_proj`) at the positions that predict answer tokens. L_edit is the
 * token-mean cross-entropy of the mini-batch.
 * @module
 */
import { upload } from "../../engine/alloc.ts";
import { tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { lmLoss } from "../../engine/models/gpt/model.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { CapturedRows } from "../../engine/models/gpt/capture.ts";
import { disposeBatch, editBatch, type PromptAnswer } from "../../engine/models/gpt/batch.ts";
import { batches } from "../eval/requests.ts";
import { editedLayer } from "./shifts.ts";

export type { CapturedRows };

/**
 * Where keys and value-gradients are taken: `answer`, at every position that predicts an answer
 * token (about 3 rows per fact on the world, as in MALMEN's code); `first`, only at the position
 * that predicts the first answer token (one row per fact). That position's output feeds every
 * later answer prediction, so its value-gradient still carries the whole answer's loss, and one
 * row per fact leaves the single least-squares ΔW fewer rows to fit (chosen on validation
 * facts of worlds other than the default; see BENCHMARKS.md); `all`, at every position of the
 * prompt and the answer that can change an answer prediction (the value-gradient of a prompt
 * position reaches the loss through attention, so subject tokens give rows too, as FT's gradient
 * does).
 */
export type KeyPositions = "answer" | "first" | "all";

/** Every {@linkcode KeyPositions} value (a saved editor's is checked against these). */
export const KEY_POSITIONS: readonly KeyPositions[] = ["answer", "first", "all"];

/** One LM mini-batch's captured rows: one entry per edited layer, in `layers` order. */
export type BatchRows = readonly CapturedRows[];

/**
 * Checks a list of edited layers against a model.
 * @param layers Block indices.
 * @param nLayer Blocks of the model.
 */
export function checkLayers(layers: readonly number[], nLayer: number): void {
  const seen = new Set<number>();
  for (const l of layers) {
    if (!Number.isInteger(l) || l < 0 || l >= nLayer) {
      throw new RangeError(`Cannot capture layer ${l}: the model has ${nLayer} layers`);
    }
    if (seen.has(l)) throw new RangeError(`Layer ${l} is listed twice in the capture request`);
    seen.add(l);
  }
}

/**
 * Runs one mini-batch of edit tuples through the model (which must not need parameter
 * gradients; see `GPT.setTrainable(false)`) and returns the captured rows per edited layer.
 * The caller owns (and disposes) the returned tensors.
 * @param model The LM (shifts as they are: normally none).
 * @param pairs Prompt/answer ids of the mini-batch.
 * @param layers Edited block indices.
 * @param at Which positions give rows (default `answer`).
 * @returns One entry per layer, in `layers` order.
 */
export function captureBatch(
  model: GPT,
  pairs: readonly PromptAnswer[],
  layers: readonly number[],
  at: KeyPositions = "answer",
): CapturedRows[] {
  checkLayers(layers, model.config.nLayer);
  const batch = editBatch(pairs, { backend: model.backend, maxLength: model.config.nCtx });
  const targets = layers.map((l) => editedLayer(model, l));
  const rows = at === "answer"
    ? null
    : keyRows(at, batch.hostPositions, batch.counts, batch.ids.shape[1], model);
  try {
    const taps = targets.map((t) => t.startCapture(rows ?? batch.positions));
    tidy(() => {
      const logits = model.forward(batch.ids, { at: batch.positions });
      lmLoss(logits, batch.targets).backward();
    });
    const out: CapturedRows[] = [];
    try {
      taps.forEach((t, i) => {
        try {
          out.push(t.take());
        } catch (e) {
          throw new Error(`Layer ${layers[i]}: ${(e as Error).message}`);
        }
      });
    } catch (e) {
      disposeRows(out);
      throw e;
    }
    return out;
  } finally {
    for (const t of targets) t.stopCapture();
    rows?.dispose();
    disposeBatch(batch);
  }
}

// The rows of `first` or `all` from the supervised positions (flat, ordered by example).
function keyRows(
  at: "first" | "all",
  positions: Int32Array,
  counts: readonly number[],
  length: number,
  model: GPT,
): Tensor {
  const rows: number[] = [];
  let offset = 0;
  counts.forEach((c, i) => {
    if (c < 1) throw new RangeError(`Edit tuple ${i} of the mini-batch has no answer token`);
    // `first`: the first supervised position; `all`: the example's start to its last one.
    const from = at === "first" ? positions[offset] : i * length;
    const to = at === "first" ? from : positions[offset + c - 1];
    for (let p = from; p <= to; p++) rows.push(p);
    offset += c;
  });
  return upload(Int32Array.from(rows), [rows.length], "int32", model.backend);
}

/**
 * Captures edit tuples lazily, one LM mini-batch at a time; each batch's rows are freed when the
 * consumer asks for the next, so memory does not grow with the number of facts.
 * @param model The frozen LM.
 * @param pairs Edit tuples.
 * @param layers Edited layers.
 * @param lmBatch Facts per LM mini-batch.
 * @param at Which positions give rows (default `answer`).
 * @yields Each mini-batch's rows.
 */
export function* captureStream(
  model: GPT,
  pairs: readonly PromptAnswer[],
  layers: readonly number[],
  lmBatch: number,
  at: KeyPositions = "answer",
): Generator<BatchRows> {
  for (const mb of batches(pairs, lmBatch)) {
    const rows = captureBatch(model, mb, layers, at);
    try {
      yield rows;
    } finally {
      disposeRows(rows);
    }
  }
}

/** All captured rows of a meta-step, kept for the backward. */
export interface EditCache {
  /** One entry per LM mini-batch, in order. */
  batches: BatchRows[];
  /** Total rows n per layer. */
  rows: number;
}

/**
 * Phase A over all edit tuples, kept in memory (meta-training needs the rows twice).
 * @param model The frozen LM.
 * @param pairs Edit tuples.
 * @param layers Edited layers.
 * @param lmBatch Facts per LM mini-batch.
 * @param onBatch Called with each mini-batch's rows (e.g. to update the normaliser).
 * @param at Which positions give rows (default `answer`).
 * @returns The cache (caller disposes with {@linkcode disposeCache}).
 */
export function cacheEdits(
  model: GPT,
  pairs: readonly PromptAnswer[],
  layers: readonly number[],
  lmBatch: number,
  onBatch?: (rows: BatchRows) => void,
  at: KeyPositions = "answer",
): EditCache {
  const cache: EditCache = { batches: [], rows: 0 };
  for (const mb of batches(pairs, lmBatch)) {
    const rows = captureBatch(model, mb, layers, at);
    cache.batches.push(rows);
    onBatch?.(rows);
    cache.rows += rows[0]?.keys.shape[0] ?? 0;
  }
  return cache;
}

/**
 * Releases a cache.
 */
export function disposeCache(cache: EditCache): void {
  for (const rows of cache.batches) disposeRows(rows);
}

/**
 * Releases captured rows.
 * @param rows Rows of one mini-batch.
 */
export function disposeRows(rows: BatchRows): void {
  for (const r of rows) {
    r.keys.dispose();
    r.valueGrads.dispose();
  }
}
