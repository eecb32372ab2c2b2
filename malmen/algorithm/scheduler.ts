/**
 * The two-phase cached-gradient meta-step of MALMEN (design §3), written as its phases so the
 * order is readable and memory stays bounded: the LM and the hyper-network never share a graph;
 * only ΔW (forward), G = ∂L/∂W (backward) and per-token ∂L/∂D cross between them.
 *
 *   A. cache     LM forward+backward on edit tuples, per LM mini-batch → keys u, value-grads δ
 *   B. predict   hyper-network without a graph, per chunk → D; streamed ridge solve → ΔW
 *   C. meta-loss edited LM on equivalent + unrelated tuples, per mini-batch → G per layer
 *   D. back-solve closed form: ∂L/∂D = K M⁻¹ G per chunk, ∂L/∂λ̂ = −λ⟨M⁻¹G, ΔW⟩
 *   E. hyper-net recompute each chunk with a graph, back-propagate ⟨∂L/∂D, D(θ)⟩
 *   F. update    global grad-norm clipping and Adam on the hyper-network
 * @module
 */
import { alias } from "../../engine/ops/copy.ts";
import { tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { AdamW } from "../../engine/nn/adamw.ts";
import { cacheEdits, disposeCache, type EditCache } from "./capture.ts";
import { type LayerShift, predictLayerShift, rowChunks } from "./predict.ts";
import { backpropMetaLoss } from "./meta_loss.ts";
import type { HyperEditor } from "../editors/hyper.ts";
import { batches, type EditRequest } from "../eval/requests.ts";

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
 * @returns The meta-loss.
 */
export async function metaStep(
  model: GPT,
  editor: HyperEditor,
  optimizer: AdamW,
  requests: readonly EditRequest[],
): Promise<MetaStepResult> {
  const c = editor.config;
  optimizer.zeroGrad();
  // A. cache keys and value-gradients (the normaliser learns their statistics as they arrive).
  const cache = phaseA(model, editor, requests, true);
  try {
    // B. predict the shifts without a graph.
    const shifts = await phaseB(editor, cache);
    // C. meta-loss on the edited model; G accumulates in the shift leaves.
    const leaves = shifts.map((s) => {
      const leaf = alias(s.shift);
      leaf.requiresGrad = true;
      return leaf;
    });
    const result = await backpropMetaLoss(
      model,
      (on) => c.layers.forEach((l, i) => model.setShift(l, on ? leaves[i] : null)),
      [
        ...batches(requests.map((r) => r.equiv), c.lmBatch),
        ...(c.editLoss ? batches(requests.map((r) => r.edit), c.lmBatch) : []),
      ],
      batches(requests.map((r) => r.unrel), c.lmBatch),
      c.locCoef,
    );
    model.clearShifts();
    // D + E. closed-form back-solve, then the hyper-network backward chunk by chunk.
    for (let i = 0; i < c.layers.length; i++) {
      const g = leaves[i].grad;
      if (g === null) throw new Error(`Layer ${c.layers[i]} received no meta-gradient`);
      await phaseDE(editor, i, cache, shifts[i], g);
    }
    for (const leaf of leaves) {
      leaf.grad?.dispose();
      leaf.dispose();
    }
    for (const s of shifts) disposeShift(s);
    // F. clip and update.
    optimizer.step();
    return { ...result, rows: cache.rows };
  } finally {
    model.clearShifts();
    disposeCache(cache);
  }
}

/**
 * Phase A: caches keys and value-gradients of the edit tuples.
 * @param model The frozen LM.
 * @param editor The editor (layers, mini-batch size, normaliser).
 * @param requests The facts.
 * @param updateStats Update the normaliser's running statistics (training only).
 * @returns The cache.
 */
export function phaseA(
  model: GPT,
  editor: HyperEditor,
  requests: readonly EditRequest[],
  updateStats: boolean,
): EditCache {
  return cacheEdits(
    model,
    requests.map((r) => r.edit),
    editor.config.layers,
    editor.config.lmBatch,
    updateStats
      ? (rows) => rows.forEach((r) => editor.net.normalizer.update(r.keys, r.valueGrads))
      : undefined,
  );
}

/**
 * Phase B: one shift per edited layer.
 * @param editor The editor.
 * @param cache Phase A's cache.
 * @returns Per-layer shifts (and solves).
 */
export async function phaseB(editor: HyperEditor, cache: EditCache): Promise<LayerShift[]> {
  const out: LayerShift[] = [];
  for (let i = 0; i < editor.config.layers.length; i++) {
    out.push(
      await predictLayerShift(
        editor.net,
        i,
        cache.chunks[i],
        editor.aggregation,
        editor.config.chunk,
        editor.keyPrior?.[i],
      ),
    );
  }
  return out;
}

/**
 * Phases D and E for one layer: ∂L/∂D (and ∂L/∂λ̂) in closed form, then the hyper-network's
 * gradient through the proxy loss, recomputed chunk by chunk.
 * @param editor The editor.
 * @param i Index of the layer among the edited layers (= module index).
 * @param cache Phase A's cache.
 * @param shift Phase B's output for the layer.
 * @param g G = ∂L/∂W of the layer.
 */
export async function phaseDE(
  editor: HyperEditor,
  i: number,
  cache: EditCache,
  shift: LayerShift,
  g: Tensor,
): Promise<void> {
  const net = editor.net;
  if (shift.solution === null) {
    // MEND: ΔW = Σ_chunks −η ŨᵀΔ̃, so each chunk receives ⟨G, its term⟩ directly.
    for (const c of rowChunks(cache.chunks[i], editor.config.chunk)) {
      tidy(() => net.mendShift(c.keys, c.valueGrads, i).backward(g));
      c.keys.dispose();
      c.valueGrads.dispose();
    }
    return;
  }
  const back = await shift.solution.backward(g);
  net.addLamHatGrad(i, back.gradLamHat);
  for (const c of rowChunks(cache.chunks[i], editor.config.chunk)) {
    const gD = back.gradValues(c.start, c.keys);
    net.backwardValueDiffs(c.keys, c.valueGrads, i, gD);
    gD.dispose();
    c.keys.dispose();
    c.valueGrads.dispose();
  }
  back.dispose();
}

/**
 * Releases a layer shift and its solve.
 * @param s The shift.
 */
export function disposeShift(s: LayerShift): void {
  if (s.solution) s.solution.dispose();
  else s.shift.dispose();
}
