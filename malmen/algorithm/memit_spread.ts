/**
 * MEMIT's second step: spread each fact's residual z − h_L over the edited layers, from first to
 * last. At layer l (the k-th of K) the keys K (inputs of `mlp.c_proj` at each fact's edited
 * token, the subject's last in the paper; `[n, d_in]`) and the stream h_L are recomputed on the model carrying the shifts of the
 * layers before, the residual R = (z − h_L)/(K − k) asks this layer for its share, and
 *
 *   ΔW = (λ·C + KᵀK + εI)⁻¹ KᵀR        (`[d_in, d_out]`, this codebase's layout)
 *
 * minimises ‖KΔW − R‖² + λ·tr(ΔWᵀCΔW), with C = E[kkᵀ] the layer's key second moment over the
 * LM's own training texts: changes along key directions the model uses often are expensive, so
 * what it already knows moves little. (MEMIT writes the same solve for W `[d_out, d_in]` as
 * ΔW = R Kᵀ(λC + KKᵀ)⁻¹ with keys as columns.) ε = 1e-6·λ·tr(C)/d_in only keeps the float32
 * factorisation well posed when some key directions never occur (dead units).
 * @module
 */
import { upload } from "../../engine/alloc.ts";
import { noGrad } from "../../engine/autograd.ts";
import { disposeBatch, editBatch } from "../../engine/models/gpt/batch.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { add, addInto, mul, sub } from "../../engine/ops/elementwise.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { sum } from "../../engine/ops/reduce.ts";
import { slice } from "../../engine/ops/view.ts";
import { keep, tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { factorSpd } from "./linalg/spd.ts";
import type { MemitFact } from "./memit_targets.ts";
import { editRows } from "./memit_targets.ts";
import { embed, runBlocks, streamRows } from "./residual.ts";
import { editedLayer, setShift } from "./shifts.ts";

/** Relative size of the ε·I added to λ·C + KᵀK (times λ·tr(C)/d_in). */
export const SPREAD_JITTER = 1e-6;

/** Which layers, with what weight on the key covariance. */
export interface SpreadOptions {
  /** Edited blocks, ascending; the last one is where the targets live. */
  layers: readonly number[];
  /** λ: weight of the key covariance (in rows: λ preserved keys weigh as much as λ edits). */
  lambda: number;
  /** Facts per forward pass. */
  batch: number;
}

/** The spread's shifts and how well each layer met its share. */
export interface SpreadResult {
  /** Layer → ΔW `[d_in, d_out]` (caller disposes). */
  shifts: Map<number, Tensor>;
  /** Per edited layer, the relative residual ‖KΔW − R‖ / ‖R‖ of its solve. */
  residual: number[];
}

/**
 * One layer's solve from its accumulated statistics.
 * @param kk KᵀK `[d_in, d_in]`.
 * @param kr KᵀR `[d_in, d_out]`.
 * @param cov C = E[kkᵀ] `[d_in, d_in]`.
 * @param lambda λ > 0.
 * @param jitter ε ≥ 0.
 * @returns ΔW `[d_in, d_out]`.
 */
export function spreadSolve(
  kk: Tensor,
  kr: Tensor,
  cov: Tensor,
  lambda: number,
  jitter: number,
): Tensor {
  const m = noGrad(() => add(mul(cov, lambda), kk));
  const factor = factorSpd(m, jitter);
  try {
    return factor.solve(kr);
  } finally {
    factor.dispose();
    m.dispose();
  }
}

/**
 * Edits the layers one after another towards the targets; the model is left carrying every
 * layer's shift (the caller clears them).
 * @param model The frozen LM without shifts on the edited layers.
 * @param facts The facts, in the targets' order.
 * @param targets z `[m, d]` for the stream after the last edited block.
 * @param covariances Layer → E[kkᵀ] `[d_in, d_in]`, for every edited layer.
 * @param options Layers, λ, batch.
 */
export async function spreadTargets(
  model: GPT,
  facts: readonly MemitFact[],
  targets: Tensor,
  covariances: ReadonlyMap<number, Tensor>,
  options: SpreadOptions,
): Promise<SpreadResult> {
  const { layers, lambda, batch } = options;
  const top = layers[layers.length - 1];
  const shifts = new Map<number, Tensor>();
  const residual: number[] = [];
  try {
    for (let k = 0; k < layers.length; k++) {
      const l = layers[k];
      const cov = covariances.get(l);
      if (cov === undefined) throw new RangeError(`No key covariance for layer ${l}`);
      const stats = layerStats(model, facts, targets, l, top, 1 / (layers.length - k), batch);
      const diag = await cov.toArray();
      const d = cov.shape[0];
      let trace = 0;
      for (let i = 0; i < d; i++) trace += diag[i * d + i];
      const dw = keep(
        spreadSolve(stats.kk, stats.kr, cov, lambda, SPREAD_JITTER * lambda * trace / d),
      );
      residual.push(await relativeResidual(dw, stats));
      for (const t of [stats.kk, stats.kr, stats.rr]) t.dispose();
      shifts.set(l, dw);
      setShift(model, l, dw);
    }
    return { shifts, residual };
  } catch (e) {
    for (const t of shifts.values()) t.dispose();
    throw e;
  }
}

/** KᵀK, KᵀR and ‖R‖² of one layer over all facts. */
interface LayerStats {
  kk: Tensor;
  kr: Tensor;
  rr: Tensor;
}

// Streams the facts once: keys at layer `l` and the stream after block `top` at the edited token,
// R = share·(z − h), folded into the normal equations.
function layerStats(
  model: GPT,
  facts: readonly MemitFact[],
  targets: Tensor,
  l: number,
  top: number,
  share: number,
  batchSize: number,
): LayerStats {
  const backend = model.backend;
  const proj = editedLayer(model, l);
  const d = model.config.dModel;
  let stats: LayerStats | null = null;
  for (let i = 0; i < facts.length; i += batchSize) {
    const chunk = facts.slice(i, i + batchSize);
    const batch = editBatch(chunk.map((f) => f.pair), { backend, maxLength: model.config.nCtx });
    const host = editRows(chunk, batch.length);
    const subj = upload(host, [host.length], "int32", backend);
    const tap = proj.startCapture(subj);
    try {
      const part = noGrad(() =>
        tidy(() => {
          const h = streamRows(runBlocks(model, embed(model, batch.ids), 0, top + 1), subj);
          const keys = tap.takeKeys();
          const z = slice(targets, [i, 0], [i + chunk.length, d]);
          const r = mul(sub(z, h), share);
          const out = {
            kk: matmul(keys, keys, { transA: true }),
            kr: matmul(keys, r, { transA: true }),
            rr: sum(mul(r, r)),
          };
          keys.dispose();
          return out;
        })
      );
      if (stats === null) stats = part;
      else {
        for (const key of ["kk", "kr", "rr"] as const) {
          addInto(stats[key], part[key]);
          part[key].dispose();
        }
      }
    } finally {
      proj.stopCapture();
      subj.dispose();
      disposeBatch(batch);
    }
  }
  if (stats === null) throw new RangeError("MEMIT needs at least one fact");
  for (const t of Object.values(stats)) keep(t);
  return stats;
}

// ‖KΔW − R‖/‖R‖ from the normal-equation statistics: ‖KΔW‖² − 2⟨ΔW, KᵀR⟩ + ‖R‖².
async function relativeResidual(dw: Tensor, s: LayerStats): Promise<number> {
  const parts = noGrad(() =>
    tidy(() => [sum(mul(dw, matmul(s.kk, dw))), sum(mul(dw, s.kr)), s.rr].map((t) => add(t, 0)))
  );
  const [a, b, c] = await Promise.all(parts.map(async (t) => (await t.toArray())[0]));
  for (const t of parts) t.dispose();
  return c > 0 ? Math.sqrt(Math.max(0, a - 2 * b + c) / c) : 0;
}
