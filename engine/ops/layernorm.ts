/**
 * Layer normalisation over the last axis: a fused forward saving per-row statistics, a fused
 * input gradient, and weight/bias gradients as a two-stage column reduction, with float64
 * references for all of them.
 * @module
 */
import { empty } from "../alloc.ts";
import type { GpuBackend } from "../backend.ts";
import { ADDED, type GradResult, record, usableSink } from "./tape.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import {
  LAYER_NORM_PASSES,
  layerNormAddForwardWgsl,
  layerNormDxWgsl,
  layerNormForwardWgsl,
  layerNormKey,
  layerNormParamsWgsl,
  layerNormPartsWgsl,
} from "../../kernels/layernorm.ts";
import { cpuValues } from "./cpu_iter.ts";
import { add } from "./elementwise.ts";
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
  checkParams(x, shape, weight, bias, eps, "layerNorm");
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
      extra: [xd.offset, wd.offset, bd.offset, f32Bits(eps)],
      inputs: [xd, wd, bd],
      outputs: [out, mean, rstd],
      vec4Offsets: [xd.offset, wd.offset, bd.offset],
      passes: LAYER_NORM_PASSES.forward,
    });
    releaseDense([x, xd], [weight, wd], [bias, bd]);
  }
  return recordLayerNorm(out, { x, weight, mean, rstd, shape }, bias);
}

// Attaches the backward (input gradient, then the parameter gradients, each added into its sink
// when autograd offers one); frees the statistics when no backward can run.
function recordLayerNorm(out: Tensor, saved: Saved, bias: Tensor): Tensor {
  const { x, weight, mean, rstd } = saved;
  record(out, "layerNorm", [x, weight, bias], (g, sinks) => {
    const dx = x.requiresGrad ? layerNormDx(saved, g, usableSink(sinks[0])) : null;
    const [dw, db] = weight.requiresGrad || bias.requiresGrad
      ? layerNormDParams(saved, g, usableSink(sinks[1]), usableSink(sinks[2]))
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
 * The residual add fused with the layer norm that follows it: `s = x + r` and
 * `layerNorm(s, weight, bias)` from one pass over the rows (one kernel instead of two, and `s` is
 * not read back for the statistics). Gradients are those of the two ops written separately.
 * @param x Residual stream `[..., D]`.
 * @param r What is added to it, same shape.
 * @returns The sum `s` and its normalisation.
 */
export function addLayerNorm(
  x: Tensor,
  r: Tensor,
  weight: Tensor,
  bias: Tensor,
  eps = 1e-5,
): { sum: Tensor; normed: Tensor } {
  const shape = floatRows(x, "addLayerNorm");
  floatRows(r, "addLayerNorm");
  if (fmtShape(x.shape) !== fmtShape(r.shape) || r.backend !== x.backend) {
    throw new RangeError(
      `addLayerNorm() needs x and r of one shape on one backend, got "${fmtShape(x.shape)}" ` +
        `and "${fmtShape(r.shape)}"`,
    );
  }
  const backend = x.backend;
  if (backend.kind === "cpu") {
    const s = add(x, r);
    return { sum: s, normed: layerNorm(s, weight, bias, eps) };
  }
  checkParams(x, shape, weight, bias, eps, "addLayerNorm");
  const sum = empty(x.shape, "float32", backend);
  const out = empty(x.shape, "float32", backend);
  const mean = empty([shape.rows], "float32", backend);
  const rstd = empty([shape.rows], "float32", backend);
  const [xd, rd, wd, bd] = [x, r, weight, bias].map(dense);
  runRows(backend, shape, {
    key: (plan) => layerNormKey("addfwd", plan),
    wgsl: layerNormAddForwardWgsl,
    extra: [xd.offset, wd.offset, bd.offset, f32Bits(eps), rd.offset],
    inputs: [xd, rd, wd, bd],
    outputs: [sum, out, mean, rstd],
    vec4Offsets: [xd.offset, rd.offset, wd.offset, bd.offset],
    passes: LAYER_NORM_PASSES.forward,
  });
  releaseDense([x, xd], [r, rd], [weight, wd], [bias, bd]);
  record(sum, "add", [x, r], (g) => [g, g]);
  return { sum, normed: recordLayerNorm(out, { x: sum, weight, mean, rstd, shape }, bias) };
}

function f32Bits(v: number): number {
  return new Uint32Array(new Float32Array([v]).buffer)[0];
}

function checkParams(
  x: Tensor,
  shape: RowShape,
  weight: Tensor,
  bias: Tensor,
  eps: number,
  op: string,
): void {
  for (const [label, p] of [["weight", weight], ["bias", bias]] as const) {
    p.assertLive(op);
    if (p.dtype !== "float32") {
      throw new TypeError(`${op}() needs a float ${label}, got ${p.dtype}`);
    }
    if (p.rank !== 1 || p.shape[0] !== shape.len) {
      throw new RangeError(
        `${op}() of "${fmtShape(x.shape)}" needs ${label} of shape "[${shape.len}]", got "${
          fmtShape(p.shape)
        }"`,
      );
    }
    if (p.backend !== x.backend) {
      throw new TypeError(`${op}() got x and ${label} on different backends`);
    }
  }
  if (!(eps >= 0)) throw new RangeError(`${op}() eps must be non-negative, got ${eps}`);
}

/**
 * Input gradient of {@linkcode layerNorm}, without autograd.
 * @param s Tensors saved by the forward.
 * @param g Upstream gradient of `x`'s shape.
 * @param sink Where to add it in place, or null for a new tensor.
 * @returns `dx` (contiguous), or {@linkcode ADDED}.
 */
function layerNormDx(s: Saved, g: Tensor, sink: Tensor | null): GradResult {
  s.x.assertLive("layerNorm backward");
  const backend = s.x.backend;
  const dx = sink ?? empty(s.x.shape, "float32", backend);
  if (backend.kind === "cpu") {
    const [x, w, gv, mean, rstd] = [s.x, s.weight, g, s.mean, s.rstd].map((t) =>
      cpuValues(t) as Float64Array
    );
    const d = new Float64Array(x.length);
    layerNormDxRef(x, w, gv, mean, rstd, d);
    const o = dx.storage.array!;
    for (let i = 0; i < d.length; i++) o[dx.offset + i] += d[i];
    return sink === null ? dx : ADDED;
  }
  const [xd, wd, gd] = [s.x, s.weight, g].map(dense);
  const add = sink !== null;
  runRows(backend, s.shape, {
    key: (plan) => layerNormKey(add ? "dx+" : "dx", plan),
    wgsl: (plan) => layerNormDxWgsl(plan, add),
    extra: [xd.offset, wd.offset, gd.offset, dx.offset],
    inputs: [xd, wd, s.mean, s.rstd, gd],
    outputs: [dx],
    vec4Offsets: [xd.offset, wd.offset, gd.offset, dx.offset],
    passes: LAYER_NORM_PASSES.dx,
  });
  releaseDense([s.x, xd], [s.weight, wd], [g, gd]);
  return sink === null ? dx : ADDED;
}

/**
 * Weight and bias gradients of {@linkcode layerNorm}: `Σ_rows g ⊙ x̂` and `Σ_rows g`, without
 * autograd, added into both sinks when both are given.
 * @param s Tensors saved by the forward.
 * @param g Upstream gradient of `x`'s shape.
 * @returns `[dweight, dbias]` (each `[D]`), or {@linkcode ADDED} twice.
 */
function layerNormDParams(
  s: Saved,
  g: Tensor,
  wSink: Tensor | null,
  bSink: Tensor | null,
): [GradResult, GradResult] {
  const { rows, len } = s.shape;
  const backend = s.x.backend;
  // Sinks in one storage (a parameter arena's gradients) are bound as their own exact, disjoint
  // ranges: browsers reject two writable bindings of overlapping bytes. Where they cannot be,
  // the gradients are returned instead.
  const exact = wSink !== null && bSink !== null && backend.kind === "webgpu" &&
    wSink.storage === bSink.storage;
  const into = wSink !== null && bSink !== null && (!exact || disjointRanges(wSink, bSink));
  const dw = into ? wSink : empty([len], "float32", backend);
  const db = into ? bSink : empty([len], "float32", backend);
  const result: [GradResult, GradResult] = into ? [ADDED, ADDED] : [dw, db];
  if (backend.kind === "cpu") {
    const [x, gv, mean, rstd] = [s.x, g, s.mean, s.rstd].map((t) => cpuValues(t) as Float64Array);
    const w = new Float64Array(len);
    const b = new Float64Array(len);
    layerNormDParamsRef(x, gv, mean, rstd, w, b);
    for (let j = 0; j < len; j++) {
      dw.storage.array![dw.offset + j] += w[j];
      db.storage.array![db.offset + j] += b[j];
    }
    return result;
  }
  if (len === 0) return result;
  const [xd, gd] = [s.x, g].map(dense);
  const bound = into && exact;
  const outputs = [dw.binding(bound), db.binding(bound)];
  const [wAt, bAt] = bound ? [0, 0] : [dw.offset, db.offset];
  const vec = len % 4 === 0 &&
    [xd.offset, gd.offset, wAt, bAt].every((o) => o % 4 === 0);
  const q = vec ? 4 : 1;
  // On a CPU adapter, with enough columns for every core, one pass over all rows per column
  // (one launch; below llvmpipe's loop cap).
  const cols = len / q;
  if (backend.isFallbackAdapter && cols >= 16 && rows <= 60000) {
    const c = { vec, direct: { accumulate: into, wg: 8 } };
    backend.dispatcher.run({
      key: layerNormKey(into ? "dsum+" : "dsum", { vec }),
      wgsl: () => layerNormPartsWgsl(c),
      uniforms: new Uniforms().u32(rows, len, xd.offset, gd.offset, rows, 1, wAt, bAt).words,
      inputs: [xd, s.mean, s.rstd, gd].map((t) => t.binding()),
      outputs,
      workgroups: grid1d(cols, 8),
    });
    releaseDense([s.x, xd], [g, gd]);
    return result;
  }
  // Stage 1 sums chunks of about √rows rows per column; stage 2 sums the chunks (into the
  // destination). Both keep neighbouring invocations on neighbouring columns; no atomics.
  const perChunk = Math.max(1, Math.ceil(Math.sqrt(rows)));
  const chunks = Math.max(1, Math.ceil(rows / perChunk));
  const part = empty([chunks, 2, len], "float32", backend);
  backend.dispatcher.run({
    key: layerNormKey("dparts", { vec }),
    wgsl: () => layerNormPartsWgsl({ vec, direct: null }),
    uniforms: new Uniforms().u32(rows, len, xd.offset, gd.offset, perChunk, chunks).words,
    inputs: [xd, s.mean, s.rstd, gd].map((t) => t.binding()),
    outputs: [part.binding()],
    workgroups: grid1d((chunks * len) / q),
  });
  backend.dispatcher.run({
    key: layerNormKey(into ? "dparams+" : "dparams", { vec }),
    wgsl: () => layerNormParamsWgsl(vec, into),
    uniforms: new Uniforms().u32(chunks, len, wAt, bAt).words,
    inputs: [part.binding()],
    outputs,
    workgroups: grid1d(len / q),
  });
  part.dispose();
  releaseDense([s.x, xd], [g, gd]);
  return result;
}

// Whether two views of one GPU storage can be bound exactly (aligned offsets) without their
// bound byte ranges overlapping.
function disjointRanges(a: Tensor, b: Tensor): boolean {
  const align = (a.backend as GpuBackend).storageAlign;
  const range = (
    t: Tensor,
  ): [number, number] => [t.offset * 4, t.offset * 4 + Math.ceil(t.size / 4) * 16];
  const [[a0, a1], [b0, b1]] = [range(a), range(b)];
  return a0 % align === 0 && b0 % align === 0 && (a1 <= b0 || b1 <= a0);
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
