/**
 * Softmax and log-softmax over the last axis: fused row kernels (forward and backward) and their
 * float64 references.
 * @module
 */
import { empty } from "../alloc.ts";
import { record } from "./tape.ts";
import { fmtShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import {
  SOFTMAX_PASSES,
  softmaxBackwardWgsl,
  softmaxForwardWgsl,
  softmaxKey,
} from "../../kernels/softmax.ts";
import { cpuValues } from "./cpu_iter.ts";
import { dense, floatRows, releaseDense, runRows } from "./rows.ts";

/**
 * Softmax over the last axis: `e^(x − max) / Σ e^(x − max)` per row.
 * @param x Input of rank ≥ 1 (any view).
 * @returns Probabilities of `x`'s shape.
 */
export function softmax(x: Tensor): Tensor {
  return softmaxOp(x, false);
}

/**
 * Log-softmax over the last axis: `x − logsumexp(x)` per row, computed without forming the
 * probabilities (finite for any finite input).
 * @param x Input of rank ≥ 1 (any view).
 * @returns Log-probabilities of `x`'s shape.
 */
export function logSoftmax(x: Tensor): Tensor {
  return softmaxOp(x, true);
}

function softmaxOp(x: Tensor, log: boolean): Tensor {
  const name = log ? "logSoftmax" : "softmax";
  const shape = floatRows(x, name);
  const out = empty(x.shape, "float32", x.backend);
  const backend = x.backend;
  if (backend.kind === "cpu") {
    softmaxRef(cpuValues(x) as Float64Array, out.storage.array as Float64Array, shape.len, log);
  } else {
    const src = dense(x);
    runRows(backend, shape, {
      key: (plan) => softmaxKey(log, false, plan),
      wgsl: (plan) => softmaxForwardWgsl(log, plan),
      extra: [src.offset],
      inputs: [src],
      outputs: [out],
      vec4Offsets: [src.offset],
      passes: SOFTMAX_PASSES.forward,
    });
    releaseDense([x, src]);
  }
  return record(out, name, [x], (g) => [softmaxBackward(out, g, log)]);
}

/**
 * Gradient of softmax or log-softmax from the forward output, without autograd.
 * @param y The forward output (any view).
 * @param g Upstream gradient of `y`'s shape (any view).
 * @param log Log-softmax instead of softmax.
 */
export function softmaxBackward(y: Tensor, g: Tensor, log: boolean): Tensor {
  const name = log ? "logSoftmax backward" : "softmax backward";
  y.assertLive(name);
  const shape = floatRows(g, name);
  if (fmtShape(y.shape) !== fmtShape(g.shape)) {
    throw new RangeError(
      `${name} got output "${fmtShape(y.shape)}" and gradient "${fmtShape(g.shape)}"`,
    );
  }
  const dx = empty(y.shape, "float32", y.backend);
  const backend = y.backend;
  if (backend.kind === "cpu") {
    softmaxGradRef(
      cpuValues(y) as Float64Array,
      cpuValues(g) as Float64Array,
      dx.storage.array as Float64Array,
      shape.len,
      log,
    );
    return dx;
  }
  const [yd, gd] = [y, g].map(dense);
  runRows(backend, shape, {
    key: (plan) => softmaxKey(log, true, plan),
    wgsl: (plan) => softmaxBackwardWgsl(log, plan),
    extra: [gd.offset, yd.offset],
    inputs: [yd, gd],
    outputs: [dx],
    vec4Offsets: [yd.offset, gd.offset],
    passes: SOFTMAX_PASSES.backward,
  });
  releaseDense([y, yd], [g, gd]);
  return dx;
}

// Float64 reference forward over contiguous rows.
function softmaxRef(x: Float64Array, y: Float64Array, len: number, log: boolean): void {
  for (let base = 0; base < x.length; base += len) {
    let m = -Infinity;
    for (let j = 0; j < len; j++) m = Math.max(m, x[base + j]);
    let s = 0;
    for (let j = 0; j < len; j++) s += Math.exp(x[base + j] - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < len; j++) {
      y[base + j] = log ? x[base + j] - lse : Math.exp(x[base + j] - lse);
    }
  }
}

// Float64 reference backward: softmax y ⊙ (g − Σ g⊙y); log-softmax g − e^y Σ g.
function softmaxGradRef(
  y: Float64Array,
  g: Float64Array,
  dx: Float64Array,
  len: number,
  log: boolean,
): void {
  for (let base = 0; base < y.length; base += len) {
    let s = 0;
    for (let j = 0; j < len; j++) s += log ? g[base + j] : g[base + j] * y[base + j];
    for (let j = 0; j < len; j++) {
      const i = base + j;
      dx[i] = log ? g[i] - Math.exp(y[i]) * s : y[i] * (g[i] - s);
    }
  }
}
