/**
 * Layer normalisation over the last axis: a fused forward saving per-row statistics, a fused
 * input gradient, and weight/bias gradients as a two-stage column reduction, with float64
 * references for all of them.
 * @module
 */
import { empty } from "../alloc.ts";
import type { GpuBackend } from "../backend.ts";
import { record } from "./tape.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import {
  LAYER_NORM_PASSES,
  layerNormDxWgsl,
  layerNormForwardWgsl,
  layerNormKey,
  layerNormParamsWgsl,
  layerNormPartsWgsl,
} from "../../kernels/layernorm.ts";
import { cpuValues } from "./cpu_iter.ts";
import { dense, floatRows, releaseDense, type RowShape, runRows } from "./rows.ts";

/** What the backward needs from the forward. */
interface Saved {
  readonly x: Tensor;
  readonly weight: Tensor;
  /** Per-row mean `[rows]`. */
  readonly mean: Tensor;
  /** Per-row `1 / sqrt(var + eps)` `[rows]`. */
  readonly rstd: Tensor;
  readonly shape: RowShape;
}

/**
 * Layer normalisation over the last axis: `(x − mean) / sqrt(var + eps) · weight + bias`, with
 * the biased variance of each row.
 * @param x Input `[..., D]` (any view).
 * @param weight Scale `[D]`.
 * @param bias Shift `[D]`.
 * @param eps Added to the variance (default 1e-5).
 * @returns The normalised tensor of `x`'s shape.
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  const shape = floatRows(x, "layerNorm");
  for (const [label, p] of [["weight", weight], ["bias", bias]] as const) {
    p.assertLive("layerNorm");
    if (p.dtype !== "float32") {
      throw new TypeError(`layerNorm() needs a float ${label}, got ${p.dtype}`);
    }
    if (p.rank !== 1 || p.shape[0] !== shape.len) {
      throw new RangeError(
        `layerNorm() of "${fmtShape(x.shape)}" needs ${label} of shape "[${shape.len}]", got "${
          fmtShape(p.shape)
        }"`,
      );
    }
    if (p.backend !== x.backend) {
      throw new TypeError(`layerNorm() got x and ${label} on different backends`);
    }
  }
  if (!(eps >= 0)) throw new RangeError(`layerNorm() eps must be non-negative, got ${eps}`);
  const backend = x.backend;
  const out = empty(x.shape, "float32", backend);
  const mean = empty([shape.rows], "float32", backend);
  const rstd = empty([shape.rows], "float32", backend);
  if (backend.kind === "cpu") {
    layerNormRef(
      cpuValues(x) as Float64Array,
      cpuValues(weight) as Float64Array,
      cpuValues(bias) as Float64Array,
      eps,
      [out, mean, rstd].map((t) => t.storage.array as Float64Array),
    );
  } else {
    const [xd, wd, bd] = [x, weight, bias].map(dense);
    runRows(backend, shape, {
      key: (plan) => layerNormKey("fwd", plan),
      wgsl: layerNormForwardWgsl,
      extra: [xd.offset, wd.offset, bd.offset, new Uint32Array(new Float32Array([eps]).buffer)[0]],
      inputs: [xd, wd, bd],
      outputs: [out, mean, rstd],
      vec4Offsets: [xd.offset, wd.offset, bd.offset],
      passes: LAYER_NORM_PASSES.forward,
    });
    releaseDense([x, xd], [weight, wd], [bias, bd]);
  }
  const saved: Saved = { x, weight, mean, rstd, shape };
  record(out, "layerNorm", [x, weight, bias], (g) => {
    const dx = x.requiresGrad ? layerNormDx(saved, g) : null;
    const [dw, db] = weight.requiresGrad || bias.requiresGrad
      ? layerNormDParams(saved, g)
      : [null, null];
    mean.dispose();
    rstd.dispose();
    return [dx, dw, db];
  });
  if (out.node === null) {
    mean.dispose();
    rstd.dispose();
  }
  return out;
}

/**
 * Input gradient of {@linkcode layerNorm}, without autograd.
 * @param s Tensors saved by the forward.
 * @param g Upstream gradient of `x`'s shape.
 * @returns `dx` (contiguous).
 */
function layerNormDx(s: Saved, g: Tensor): Tensor {
  s.x.assertLive("layerNorm backward");
  const dx = empty(s.x.shape, "float32", s.x.backend);
  const backend = s.x.backend;
  if (backend.kind === "cpu") {
    const [x, w, gv, mean, rstd] = [s.x, s.weight, g, s.mean, s.rstd].map((t) =>
      cpuValues(t) as Float64Array
    );
    layerNormDxRef(x, w, gv, mean, rstd, dx.storage.array as Float64Array);
    return dx;
  }
  const [xd, wd, gd] = [s.x, s.weight, g].map(dense);
  runRows(backend, s.shape, {
    key: (plan) => layerNormKey("dx", plan),
    wgsl: layerNormDxWgsl,
    extra: [xd.offset, wd.offset, gd.offset],
    inputs: [xd, wd, s.mean, s.rstd, gd],
    outputs: [dx],
    vec4Offsets: [xd.offset, wd.offset, gd.offset],
    passes: LAYER_NORM_PASSES.dx,
  });
  releaseDense([s.x, xd], [s.weight, wd], [g, gd]);
  return dx;
}

/**
 * Weight and bias gradients of {@linkcode layerNorm}: `Σ_rows g ⊙ x̂` and `Σ_rows g`, without
 * autograd.
 * @param s Tensors saved by the forward.
 * @param g Upstream gradient of `x`'s shape.
 * @returns `[dweight, dbias]`, each `[D]`.
 */
function layerNormDParams(s: Saved, g: Tensor): [Tensor, Tensor] {
  const { rows, len } = s.shape;
  const backend = s.x.backend;
  const dw = empty([len], "float32", backend);
  const db = empty([len], "float32", backend);
  if (backend.kind === "cpu") {
    const [x, gv, mean, rstd] = [s.x, g, s.mean, s.rstd].map((t) => cpuValues(t) as Float64Array);
    layerNormDParamsRef(
      x,
      gv,
      mean,
      rstd,
      dw.storage.array as Float64Array,
      db.storage.array as Float64Array,
    );
    return [dw, db];
  }
  const [xd, gd] = [s.x, g].map(dense);
  columnSums(backend, s, xd, gd, dw, db, rows, len);
  releaseDense([s.x, xd], [g, gd]);
  return [dw, db];
}

// Stage 1 sums chunks of about √rows rows per column; stage 2 sums the chunks. Both stages keep
// neighbouring invocations on neighbouring columns, and neither needs atomics.
function columnSums(
  backend: GpuBackend,
  s: Saved,
  xd: Tensor,
  gd: Tensor,
  dw: Tensor,
  db: Tensor,
  rows: number,
  len: number,
): void {
  if (len === 0) return;
  const perChunk = Math.max(1, Math.ceil(Math.sqrt(rows)));
  const chunks = Math.max(1, Math.ceil(rows / perChunk));
  const part = empty([chunks, 2, len], "float32", backend);
  backend.dispatcher.run({
    key: layerNormKey("dparts"),
    wgsl: layerNormPartsWgsl,
    uniforms: new Uniforms().u32(rows, len, xd.offset, gd.offset, perChunk, chunks).words,
    inputs: [xd, s.mean, s.rstd, gd].map((t) => t.binding()),
    outputs: [part.binding()],
    workgroups: grid1d(chunks * len),
  });
  backend.dispatcher.run({
    key: layerNormKey("dparams"),
    wgsl: layerNormParamsWgsl,
    uniforms: new Uniforms().u32(chunks, len).words,
    inputs: [part.binding()],
    outputs: [dw.binding(), db.binding()],
    workgroups: grid1d(len),
  });
  part.dispose();
}

// Float64 reference forward; `dst` is [y, mean, rstd].
function layerNormRef(
  x: Float64Array,
  w: Float64Array,
  b: Float64Array,
  eps: number,
  dst: Float64Array[],
): void {
  const [y, mean, rstd] = dst;
  const len = w.length;
  for (let r = 0; r < mean.length; r++) {
    const base = r * len;
    let s = 0;
    for (let j = 0; j < len; j++) s += x[base + j];
    const mu = s / len;
    let v = 0;
    for (let j = 0; j < len; j++) v += (x[base + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / len + eps);
    for (let j = 0; j < len; j++) y[base + j] = (x[base + j] - mu) * rs * w[j] + b[j];
    mean[r] = mu;
    rstd[r] = rs;
  }
}

// Float64 reference input gradient.
function layerNormDxRef(
  x: Float64Array,
  w: Float64Array,
  g: Float64Array,
  mean: Float64Array,
  rstd: Float64Array,
  dx: Float64Array,
): void {
  const len = w.length;
  for (let r = 0; r < mean.length; r++) {
    const base = r * len;
    let sh = 0;
    let shx = 0;
    for (let j = 0; j < len; j++) {
      const h = g[base + j] * w[j];
      sh += h;
      shx += h * (x[base + j] - mean[r]) * rstd[r];
    }
    sh /= len;
    shx /= len;
    for (let j = 0; j < len; j++) {
      const xh = (x[base + j] - mean[r]) * rstd[r];
      dx[base + j] = rstd[r] * (g[base + j] * w[j] - sh - xh * shx);
    }
  }
}

// Float64 reference weight and bias gradients.
function layerNormDParamsRef(
  x: Float64Array,
  g: Float64Array,
  mean: Float64Array,
  rstd: Float64Array,
  dw: Float64Array,
  db: Float64Array,
): void {
  const len = dw.length;
  for (let r = 0; r < mean.length; r++) {
    for (let j = 0; j < len; j++) {
      const i = r * len + j;
      dw[j] += g[i] * (x[i] - mean[r]) * rstd[r];
      db[j] += g[i];
    }
  }
}
