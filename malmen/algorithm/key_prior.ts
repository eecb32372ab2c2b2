/**
 * Key statistics: E[kkᵀ] of the inputs of the edited projections over the LM's own texts, for
 * MEMIT's solve and for a preservation prior in MALMEN's least-squares solve (an extension in the
 * spirit of MEMIT; off by default). The paper's normal equation ΔW = (KᵀK + λI)⁻¹KᵀD spends
 * the same ridge penalty on every direction of key space, so ΔW also moves keys the model uses
 * for facts it should keep. With P = μ·E[uuᵀ] over the keys of the model's own training facts,
 * ΔW = (KᵀK + P + λI)⁻¹KᵀD makes changes along frequently used key directions expensive: the
 * edited facts' own keys are still fitted (they are in KᵀK), their neighbours move less.
 * @module
 */
import { upload } from "../../engine/alloc.ts";
import type { Backend } from "../../engine/backend.ts";
import { noGrad } from "../../engine/autograd.ts";
import { readSafetensors, type SafeTensor, writeSafetensors } from "../../engine/io/safetensors.ts";
import { disposeBatch, lmBatch, type PromptAnswer } from "../../engine/models/gpt/batch.ts";
import { assertFinite } from "../../engine/nn/finite.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { addInto, mul } from "../../engine/ops/elementwise.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { keep, tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { captureStream, checkLayers } from "./capture.ts";
import { embed, runBlocks } from "./residual.ts";
import { clearShifts, editedLayer } from "./shifts.ts";

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
  return meanSecondMoments(
    (function* () {
      for (const rows of captureStream(model, pairs, layers, lmBatch)) {
        yield rows.map((r) => r.keys);
      }
    })(),
  );
}

/**
 * E[kkᵀ] per layer at every position of whole texts (all tokens but each text's last), from
 * forward passes alone that stop after the deepest layer asked for: the statistics MEMIT takes
 * over the LM's training text.
 * @param model The frozen LM (no shifts).
 * @param texts Token ids, each 2 to `nCtx + 1` tokens.
 * @param layers Blocks to measure.
 * @param batch Texts per forward pass.
 * @returns Layer → `[d_in, d_in]` (caller disposes).
 */
export function keyCovariances(
  model: GPT,
  texts: readonly (readonly number[])[],
  layers: readonly number[],
  batch = 64,
): Map<number, Tensor> {
  if (texts.length === 0) throw new RangeError("Key statistics need at least one text");
  checkLayers(layers, model.config.nLayer);
  clearShifts(model);
  const top = Math.max(...layers);
  const moments = meanSecondMoments((function* () {
    for (let i = 0; i < texts.length; i += batch) {
      const b = lmBatch(texts.slice(i, i + batch), {
        backend: model.backend,
        maxLength: model.config.nCtx,
      });
      const taps = layers.map((l) => editedLayer(model, l).startCapture(b.positions));
      let keys: Tensor[] = [];
      try {
        noGrad(() => tidy(() => void runBlocks(model, embed(model, b.ids), 0, top + 1)));
        keys = taps.map((t) => t.takeKeys());
        yield keys;
      } finally {
        for (const k of keys) k.dispose();
        for (const l of layers) editedLayer(model, l).stopCapture();
        disposeBatch(b);
      }
    }
  })());
  return new Map(layers.map((l, i) => [l, moments[i]]));
}

// Σ KᵀK / Σ rows per layer over batches of keys (one `[n, d_in]` tensor per layer each; the
// source owns and frees them).
function meanSecondMoments(batches: Iterable<readonly Tensor[]>): Tensor[] {
  const sums: Tensor[] = [];
  let rows = 0;
  for (const keys of batches) {
    keys.forEach((k, l) => {
      const kk = noGrad(() => matmul(k, k, { transA: true }));
      if (sums[l] === undefined) sums[l] = keep(kk);
      else {
        addInto(sums[l], kk);
        kk.dispose();
      }
    });
    rows += keys[0].shape[0];
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

/**
 * Writes one matrix per layer (e.g. key moments) as a safetensors file with tensors
 * `layer<l>` (atomic); matrices holding NaN or ±Inf are refused before anything is written.
 * @param path Destination file.
 * @param matrices Layer → matrix.
 */
export async function writeLayerMatrices(
  path: string,
  matrices: ReadonlyMap<number, Tensor>,
): Promise<void> {
  const entries: Record<string, SafeTensor> = {};
  for (const [layer, m] of matrices) {
    entries[`layer${layer}`] = {
      dtype: "F32",
      shape: [...m.shape],
      data: Float32Array.from(await m.toArray()),
    };
  }
  assertFinite(
    Object.entries(entries).map(([name, t]) => [`tensor "${name}"`, t.data] as const),
    `Refusing to write "${path}"`,
  );
  await writeSafetensors(path, entries);
}

/**
 * Reads the matrices of `layers` written by {@linkcode writeLayerMatrices}; a file holding NaN or
 * ±Inf is refused, naming the tensor.
 * @param path The file.
 * @param layers Which layers (each must be there).
 * @param backend Where the tensors go.
 * @param why What the file is needed for (for the error when it cannot be read).
 * @returns One tensor per layer, in `layers` order (caller disposes).
 */
export async function readLayerMatrices(
  path: string,
  layers: readonly number[],
  backend: Backend,
  why: string,
): Promise<Tensor[]> {
  const { tensors } = await readSafetensors(path).catch((e: Error) => {
    throw new Error(`${why} but "${path}" cannot be read: ${e.message}`);
  });
  const missing = layers.filter((l) => !tensors.has(`layer${l}`));
  if (missing.length > 0) throw new Error(`"${path}" has no tensor "layer${missing[0]}"`);
  assertFinite(
    layers.map((l) => [`tensor "layer${l}"`, tensors.get(`layer${l}`)!.data] as const),
    `"${path}" holds non-finite values`,
  );
  return layers.map((l) => {
    const t = tensors.get(`layer${l}`)!;
    return keep(upload(t.data, t.shape, "float32", backend));
  });
}
