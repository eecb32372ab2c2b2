/**
 * Row kernels of the composed attention path: a scaled, causally masked softmax over the last
 * axis of contiguous `[B·H·T, T]` scores, and its backward. One invocation per row.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "./common.ts";

/** Cache key of the forward kernel. */
export const CAUSAL_SOFTMAX_KEY = "causal_softmax:fwd";

/** Cache key of the backward kernel. */
export const CAUSAL_SOFTMAX_GRAD_KEY = "causal_softmax:bwd";

/**
 * WGSL of `p[r, j] = softmax_j≤i(scale · s[r, j])`, 0 for `j > i`, where `i = r mod T`.
 * Uniforms: 0 rows, 1 T, 2 scale (f32), 3 input offset.
 */
export function causalSoftmaxWgsl(): string {
  return `${PARAMS_WGSL}
${bindingsWgsl([{ name: "X", type: "f32" }], [{ name: "Y", type: "f32" }])}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let T = pu(1u);
  let scale = pf(2u);
  let i = gi % T;
  let src = pu(3u) + gi * T;
  let dst = gi * T;
  var m = -3.4028234663852886e38;
  for (var j = 0u; j <= i; j = j + 1u) { m = max(m, X[src + j] * scale); }
  var l = 0.0;
  for (var j = 0u; j <= i; j = j + 1u) {
    let e = exp(X[src + j] * scale - m);
    Y[dst + j] = e;
    l = l + e;
  }
  let inv = 1.0 / l;
  for (var j = 0u; j <= i; j = j + 1u) { Y[dst + j] = Y[dst + j] * inv; }
  for (var j = i + 1u; j < T; j = j + 1u) { Y[dst + j] = 0.0; }
}`;
}

/**
 * WGSL of the backward `ds[r, j] = scale · p[r, j] · (g[r, j] − Σ_k p[r, k] g[r, k])`.
 * Uniforms: 0 rows, 1 T, 2 scale (f32), 3 offset of p, 4 offset of g (both contiguous rows).
 */
export function causalSoftmaxGradWgsl(): string {
  return `${PARAMS_WGSL}
${
    bindingsWgsl([{ name: "Y", type: "f32" }, { name: "GY", type: "f32" }], [{
      name: "GX",
      type: "f32",
    }])
  }
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let T = pu(1u);
  let scale = pf(2u);
  let i = gi % T;
  let p0 = pu(3u) + gi * T;
  let g0 = pu(4u) + gi * T;
  let dst = gi * T;
  var dot = 0.0;
  for (var j = 0u; j <= i; j = j + 1u) { dot = dot + Y[p0 + j] * GY[g0 + j]; }
  for (var j = 0u; j <= i; j = j + 1u) { GX[dst + j] = scale * Y[p0 + j] * (GY[g0 + j] - dot); }
  for (var j = i + 1u; j < T; j = j + 1u) { GX[dst + j] = 0.0; }
}`;
}
