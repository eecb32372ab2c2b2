/**
 * The two-phase cached-gradient meta-step of MALMEN, written as its phases so the order is
 * readable and memory stays bounded: the LM and the hyper-network never share a graph; only ΔW
 * (forward), G = ∂L/∂W (backward) and per-token ∂L/∂D cross between them.
 *
 *   A. cache     LM forward+backward on edit tuples, per LM mini-batch → keys u, value-grads δ
 *   B. predict   hyper-network without a graph, per chunk → D; aggregated (ridge or sum) → ΔW
 *   C. meta-loss edited LM on equivalent + unrelated tuples, per mini-batch → G per layer
 *   D. back-solve the aggregation's closed form: ∂L/∂D per chunk (and ∂L/∂λ̂ for the ridge)
 *   E. hyper-net recompute each chunk with a graph, back-propagate ⟨∂L/∂D, D(θ)⟩
 *   F. update    global grad-norm clipping and Adam on the hyper-network
 *
 * Phases A+B are the same streamed path editing uses (`stream.ts`); here the rows are cached
 * because D+E need them again.
 * @module
 */
import { alias } from "../../engine/ops/copy.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { AdamW } from "../../engine/nn/adamw.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { batches, type EditRequest } from "../eval/requests.ts";
import type { HyperEditor } from "../editors/hyper.ts";
import { cacheEdits, disposeCache } from "./capture.ts";
import { backpropMetaLoss } from "./meta_loss.ts";
import { clearShifts, setShift } from "./shifts.ts";
import { aggregateRows, backpropagateRows } from "./stream.ts";

/** What one meta-step measured. */
export interface MetaStepResult {
  /** Meta-loss L = Σ CE(equiv [+ edit]) + locCoef · Σ KL(unrel). */
  loss: number;
  /** Generalisation part. */
  gen: number;
  /** Locality part. */
  loc: number;
  /** Rows (answer tokens) per edited layer. */
  rows: number;
}

/**
 * One meta-training step on a set of facts: phases A–F.
 * @param model The LM (its parameters frozen; shifts cleared on return).
 * @param editor The hyper-network editor being trained.
 * @param optimizer Adam over the editor's parameters.
 * @param requests The facts of this step.
 */
export async function metaStep(
  model: GPT,
  editor: HyperEditor,
  optimizer: AdamW,
  requests: readonly EditRequest[],
): Promise<MetaStepResult> {
  const c = editor.config;
  optimizer.zeroGrad();
  // A. cache keys and value-gradients (the normaliser learns their statistics as they arrive,
  // all before B, so B and E see the same statistics).
  const normalizer = editor.net.normalizer;
  const cache = cacheEdits(
    model,
    requests.map((r) => r.edit),
    c.layers,
    c.lmBatch,
    (rows) => rows.forEach((r) => normalizer.update(r.keys, r.valueGrads)),
    c.keyPositions,
  );
  const aggregators = editor.aggregators();
  const leaves: Tensor[] = [];
  try {
    // B. predict the shifts without a graph.
    const shifts = await aggregateRows(cache.batches, aggregators, c.chunk);
    // C. meta-loss on the edited model; G accumulates in the shift leaves.
    for (const s of shifts) {
      const leaf = alias(s);
      leaf.requiresGrad = true;
      leaves.push(leaf);
    }
    const result = await backpropMetaLoss(
      model,
      (on) => c.layers.forEach((l, i) => setShift(model, l, on ? leaves[i] : null)),
      [
        ...batches(requests.map((r) => r.equiv), c.lmBatch),
        ...(c.editLoss ? batches(requests.map((r) => r.edit), c.lmBatch) : []),
      ],
      batches(requests.map((r) => r.unrel), c.lmBatch),
      c.locCoef,
    );
    clearShifts(model);
    // D + E. closed-form back-solve, then the hyper-network backward chunk by chunk.
    const grads = leaves.map((leaf, i) => {
      if (leaf.grad === null) throw new Error(`Layer ${c.layers[i]} received no meta-gradient`);
      return leaf.grad;
    });
    await backpropagateRows(cache.batches, aggregators, grads, c.chunk);
    // F. clip and update.
    optimizer.step();
    return { ...result, rows: cache.rows };
  } finally {
    clearShifts(model);
    for (const leaf of leaves) {
      leaf.grad?.dispose();
      leaf.dispose();
    }
    for (const a of aggregators) a.dispose();
    disposeCache(cache);
  }
}
