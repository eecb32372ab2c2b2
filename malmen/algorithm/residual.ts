/**
 * The GPT's forward pass split at the residual stream, composed from the model's public pieces
 * (embeddings, blocks, final LayerNorm, tied output layer): an editor can read the stream after
 * any block, add to it, and run the rest, while the model itself stays x → logits and knows
 * nothing of editing. `readout(model, runBlocks(model, embed(model, ids), 0, L), at)` equals
 * `model.forward(ids, { at })`.
 * @module
 */
import { upload } from "../../engine/alloc.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { add } from "../../engine/ops/elementwise.ts";
import { gather } from "../../engine/ops/gather.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { reshape } from "../../engine/ops/view.ts";
import type { Tensor } from "../../engine/tensor.ts";

/**
 * Token plus position embeddings: the residual stream before block 0.
 * @param ids int32 `[B, T]` with `T ≤ nCtx`.
 * @returns `[B, T, d]`.
 */
export function embed(model: GPT, ids: Tensor): Tensor {
  const t = ids.shape[1];
  if (ids.rank !== 2 || t > model.config.nCtx) {
    throw new RangeError(
      `Token ids must be "[B,T]" with T ≤ ${model.config.nCtx}, got "[${ids.shape}]"`,
    );
  }
  const positions = upload(Int32Array.from({ length: t }, (_, i) => i), [t], "int32", ids.backend);
  const x = add(model.wte.forward(ids), model.wpe.forward(positions));
  positions.dispose();
  return x;
}

/**
 * Runs blocks `from … to − 1` on a residual stream (their shifts as set).
 * @param x `[B, T, d]`: the stream before block `from`.
 * @param from First block.
 * @param to One past the last block (`from` itself runs none).
 * @returns The stream after block `to − 1`.
 */
export function runBlocks(model: GPT, x: Tensor, from: number, to: number): Tensor {
  const n = model.config.nLayer;
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from <= to && to <= n)) {
    throw new RangeError(`Blocks ${from} to ${to} are not a range of the model's ${n} blocks`);
  }
  for (let l = from; l < to; l++) x = model.h.at(l).forward(x);
  return x;
}

/**
 * Logits at flat rows of the final residual stream: final LayerNorm (per row, so picking rows
 * first is exact) and the output layer tied to the token embedding.
 * @param x `[B, T, d]`: the stream after the last block.
 * @param at int32 `[n]` flat rows of the `B·T` positions.
 * @returns `[n, V]`.
 */
export function readout(model: GPT, x: Tensor, at: Tensor): Tensor {
  return head(model, streamRows(x, at));
}

/**
 * Logits of rows of the final residual stream: final LayerNorm and the tied output layer.
 * @param rows `[n, d]`.
 * @returns `[n, V]`.
 */
export function head(model: GPT, rows: Tensor): Tensor {
  return matmul(model.ln_f.forward(rows), model.wte.weight, { transB: true });
}

/**
 * Rows of a residual stream.
 * @param x `[B, T, d]`.
 * @param at int32 `[n]` flat rows.
 * @returns `[n, d]`.
 */
export function streamRows(x: Tensor, at: Tensor): Tensor {
  return gather(reshape(x, [-1, x.shape[x.rank - 1]]), at, 0);
}
