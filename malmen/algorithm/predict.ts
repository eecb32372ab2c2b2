/**
 * Phase B (design §3): the hyper-network, run without a graph in chunks of rows, turns cached
 * keys and value-gradients into value differences D; the streamed ridge solve folds them into one
 * shift ΔW per edited layer (MALMEN), or the shifts are summed (MEND).
 * @module
 */
import { noGrad } from "../../engine/autograd.ts";
import { concat } from "../../engine/ops/concat.ts";
import { addInto } from "../../engine/ops/elementwise.ts";
import { slice } from "../../engine/ops/view.ts";
import { keep, tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { HyperNetwork } from "./hypernet.ts";
import { RidgeAccumulator, type RidgeSolution } from "./ridge_accumulator.ts";
import type { CapturedRows } from "./capture.ts";

/** How cached rows become a shift. */
export type Aggregation = "ls" | "sum";

/** A chunk of rows of one layer, with its offset in the layer's row order. */
export interface RowChunk {
  /** First row's index among the layer's rows. */
  start: number;
  /** Keys `[c, d_in]`. */
  keys: Tensor;
  /** Value-gradients `[c, d_out]`. */
  valueGrads: Tensor;
}

/**
 * Re-chunks a layer's mini-batch captures into chunks of at most `size` rows (the LM mini-batch
 * size and the hyper-network chunk size are independent). Yielded tensors are views or fresh
 * copies; dispose them after use.
 * @param parts The layer's captured mini-batches, in order.
 * @param size Rows per chunk.
 * @yields The chunks.
 */
export function* rowChunks(parts: readonly CapturedRows[], size: number): Generator<RowChunk> {
  const total = parts.reduce((s, p) => s + p.keys.shape[0], 0);
  if (total === 0) return;
  const keys = parts.length === 1 ? parts[0].keys : noGrad(() => concat(parts.map((p) => p.keys)));
  const grads = parts.length === 1
    ? parts[0].valueGrads
    : noGrad(() => concat(parts.map((p) => p.valueGrads)));
  try {
    for (let start = 0; start < total; start += size) {
      const end = Math.min(total, start + size);
      yield {
        start,
        keys: slice(keys, [start, 0], [end, keys.shape[1]]),
        valueGrads: slice(grads, [start, 0], [end, grads.shape[1]]),
      };
    }
  } finally {
    if (parts.length !== 1) {
      keys.dispose();
      grads.dispose();
    }
  }
}

/** Phase B's output for one layer. */
export interface LayerShift {
  /** ΔW `[d_in, d_out]`. */
  shift: Tensor;
  /** The solve (MALMEN only), kept for the closed-form backward. */
  solution: RidgeSolution | null;
}

/**
 * Predicts one layer's shift from its captured rows.
 * @param net The hyper-network of the layer's shape.
 * @param k The layer's module index in the network.
 * @param parts The layer's captures.
 * @param aggregation Least squares (MALMEN) or sum (MEND).
 * @param chunk Hyper-network rows per chunk.
 * @param prior Optional fixed matrix added to the least-squares system (see
 *   `RidgeAccumulatorOptions.prior`).
 * @returns The shift (and the solve).
 */
export async function predictLayerShift(
  net: HyperNetwork,
  k: number,
  parts: readonly CapturedRows[],
  aggregation: Aggregation,
  chunk: number,
  prior?: Tensor,
): Promise<LayerShift> {
  if (aggregation === "sum") {
    let total: Tensor | null = null;
    for (const c of rowChunks(parts, chunk)) {
      const s = tidy(() => noGrad(() => net.mendShift(c.keys, c.valueGrads, k)));
      if (total === null) total = keep(s);
      else {
        addInto(total, s);
        s.dispose();
      }
      c.keys.dispose();
      c.valueGrads.dispose();
    }
    return { shift: total!, solution: null };
  }
  const acc = new RidgeAccumulator(net.dIn, net.dOut, { prior });
  for (const c of rowChunks(parts, chunk)) {
    const d = net.predictValueDiffs(c.keys, c.valueGrads, k);
    acc.add(c.keys, d);
    d.dispose();
    c.keys.dispose();
    c.valueGrads.dispose();
  }
  const lamHat = net.lamHatAt(k);
  const solution = await acc.solve(lamHat);
  lamHat.dispose();
  acc.dispose();
  return { shift: solution.deltaW, solution };
}
