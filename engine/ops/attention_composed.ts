/**
 * The composed causal attention path: batched matmuls around a scaled, causally masked softmax
 * (forward kernel, backward kernel, float64 reference). Kept beside the fused kernels of
 * `attention.ts` as an option and as the path for head sizes they do not hold in registers.
 * @module
 */
import { empty } from "../alloc.ts";
import { record } from "./tape.ts";
import type { Tensor } from "../tensor.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import {
  CAUSAL_SOFTMAX_GRAD_KEY,
  CAUSAL_SOFTMAX_KEY,
  causalSoftmaxGradWgsl,
  causalSoftmaxWgsl,
} from "../../kernels/causal_softmax.ts";
import { cpuValues } from "./cpu_iter.ts";
import { materialize } from "./copy.ts";
import { matmul } from "./matmul.ts";

/**
 * Causal attention as `softmax(mask(q·kᵀ·scale))·v` from two batched matmuls and a fused
 * scaled, masked softmax. Backward flows through the matmuls' rules and the softmax kernel's; the
 * `[B, H, T, T]` scores and probabilities stay alive as tape intermediates (freed by the
 * enclosing scope), or are freed at once when nothing is recorded.
 * @param q Queries `[B, H, T, hd]` (validated by the caller).
 * @param k Keys of the same shape.
 * @param v Values of the same shape.
 * @returns `[B, H, T, hd]`.
 */
export function composedAttention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const scale = 1 / Math.sqrt(q.shape[3]);
  const s = matmul(q, k, { transB: true });
  const p = causalSoftmax(s, scale);
  const out = matmul(p, v);
  // Without a tape entry nothing refers to the scores or probabilities any more.
  if (!out.requiresGrad) {
    s.dispose();
    p.dispose();
  }
  return out;
}

/**
 * Scaled causal softmax over the last axis of `[..., T, T]` scores: row `i` (mod T) keeps
 * columns `≤ i` and is 0 elsewhere. Part of the composed attention path.
 * @param s Scores (any view).
 * @param scale Multiplier applied before the softmax.
 * @returns The probabilities, contiguous.
 */
function causalSoftmax(s: Tensor, scale: number): Tensor {
  const t = s.shape[s.rank - 1];
  const rows = t === 0 ? 0 : s.size / t;
  const out = empty(s.shape, "float32", s.backend);
  const backend = s.backend;
  if (backend.kind === "cpu") {
    const x = cpuValues(s);
    const o = out.storage.array!;
    for (let r = 0; r < rows; r++) {
      const i = r % t;
      let m = -Infinity;
      for (let j = 0; j <= i; j++) m = Math.max(m, x[r * t + j] * scale);
      let l = 0;
      for (let j = 0; j <= i; j++) l += Math.exp(x[r * t + j] * scale - m);
      for (let j = 0; j <= i; j++) o[r * t + j] = Math.exp(x[r * t + j] * scale - m) / l;
    }
  } else if (rows > 0) {
    const src = materialize(s);
    backend.dispatcher.run({
      key: CAUSAL_SOFTMAX_KEY,
      wgsl: causalSoftmaxWgsl,
      uniforms: new Uniforms().u32(rows, t).f32(scale).u32(src.offset).words,
      inputs: [src.binding()],
      outputs: [out.binding()],
      workgroups: grid1d(rows),
    });
    if (src !== s) src.dispose();
  }
  return record(out, "causalSoftmax", [s], (g) => [causalSoftmaxGrad(out, g, scale)]);
}

function causalSoftmaxGrad(p: Tensor, g: Tensor, scale: number): Tensor {
  const t = p.shape[p.rank - 1];
  const rows = t === 0 ? 0 : p.size / t;
  const ds = empty(p.shape, "float32", p.backend);
  const backend = p.backend;
  if (backend.kind === "cpu") {
    const pv = cpuValues(p);
    const gv = cpuValues(g);
    const o = ds.storage.array!;
    for (let r = 0; r < rows; r++) {
      const i = r % t;
      let dot = 0;
      for (let j = 0; j <= i; j++) dot += pv[r * t + j] * gv[r * t + j];
      for (let j = 0; j <= i; j++) o[r * t + j] = scale * pv[r * t + j] * (gv[r * t + j] - dot);
    }
  } else if (rows > 0) {
    const gc = materialize(g);
    backend.dispatcher.run({
      key: CAUSAL_SOFTMAX_GRAD_KEY,
      wgsl: causalSoftmaxGradWgsl,
      uniforms: new Uniforms().u32(rows, t).f32(scale).u32(p.offset, gc.offset).words,
      inputs: [p.binding(), gc.binding()],
      outputs: [ds.binding()],
      workgroups: grid1d(rows),
    });
    if (gc !== g) gc.dispose();
  }
  return ds;
}
