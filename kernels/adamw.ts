/**
 * The fused AdamW update over one parameter-arena segment: moments, bias correction, decoupled
 * weight decay on the leading `[0, decayEnd)` range, and the device-side clip factor, in one
 * pass over `vec4` elements.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "./common.ts";

/**
 * Uniform layout (word indices) of {@linkcode adamwWgsl}; all floats precomputed on the host in
 * float64: 0 n4, 1 decayEnd4, 2 use clip factor (0/1), 3 β1, 4 1 − β1, 5 β2, 6 1 − β2,
 * 7 step size lr / (1 − β1ᵗ), 8 1 / √(1 − β2ᵗ), 9 ε, 10 decay factor 1 − lr·λ.
 */
export const ADAMW_UNIFORMS = {
  n4: 0,
  decayEnd4: 1,
  clip: 2,
  beta1: 3,
  oneMinusBeta1: 4,
  beta2: 5,
  oneMinusBeta2: 6,
  stepSize: 7,
  invSqrtBc2: 8,
  eps: 9,
  decayFactor: 10,
} as const;

/**
 * WGSL of the AdamW step. Bindings: inputs `g` (gradients), `state` (`state[0]` = clip factor);
 * outputs `p` (parameters), `m`, `v` (moments), all `vec4<f32>` from element 0.
 */
export function adamwWgsl(): string {
  const u = ADAMW_UNIFORMS;
  return `${PARAMS_WGSL}
${
    bindingsWgsl([{ name: "g", type: "vec4<f32>" }, { name: "state", type: "f32" }], [
      { name: "p", type: "vec4<f32>" },
      { name: "m", type: "vec4<f32>" },
      { name: "v", type: "vec4<f32>" },
    ])
  }
${MAIN_1D}
  if (gi >= pu(${u.n4}u)) { return; }
  var c: f32 = 1.0;
  if (pu(${u.clip}u) != 0u) { c = state[0]; }
  let grad = g[gi] * c;
  let mi = pf(${u.beta1}u) * m[gi] + pf(${u.oneMinusBeta1}u) * grad;
  let vi = pf(${u.beta2}u) * v[gi] + pf(${u.oneMinusBeta2}u) * grad * grad;
  m[gi] = mi;
  v[gi] = vi;
  var w = p[gi];
  if (gi < pu(${u.decayEnd4}u)) { w = w * pf(${u.decayFactor}u); }
  let denom = sqrt(vi) * pf(${u.invSqrtBc2}u) + vec4<f32>(pf(${u.eps}u));
  p[gi] = w - pf(${u.stepSize}u) * mi / denom;
}`;
}
