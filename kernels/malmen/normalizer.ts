/**
 * Kernels of the MALMEN running normaliser over z = [u; δ]. The state is one
 * `[3, D]` buffer: rows μ, M (sum of squared deviations) and σ. Both kernels read u and δ from
 * their own buffers, so the concatenation z is never materialised.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "../common.ts";

/** fp32 machine epsilon (`torch.finfo(torch.float32).eps`), the ε of (z − μ)/(σ + ε). */
export const NORM_EPS = 1.1920928955078125e-7;

// z[r][c] for c < dIn from U, else from V. Uniforms 1 dIn, 2 dOut, 3 uOff, 4 vOff.
const Z_WGSL = `
fn z(r: u32, c: u32) -> f32 {
  let dIn = pu(1u);
  if (c < dIn) { return U[pu(3u) + r * dIn + c]; }
  return V[pu(4u) + r * pu(2u) + c - dIn];
}
`;

/**
 * WGSL of the batched statistics update, one invocation per column of z:
 * x̄, s² (unbiased; 0 when b = 1), Δ = x̄ − μ, N' = N + b, μ += bΔ/N',
 * M += b·s² + N·b·Δ²/N', σ = sqrt(M / (N' − 1 + ε)).
 * Uniforms: 0 b, 1 dIn, 2 dOut, 3 uOff, 4 vOff, 5 N (old count, f32), 6 ε (f32), 7 stateOff.
 */
export function normUpdateWgsl(): string {
  return `${PARAMS_WGSL}
${
    bindingsWgsl([{ name: "U", type: "f32" }, { name: "V", type: "f32" }], [{
      name: "S",
      type: "f32",
    }])
  }
${Z_WGSL}
${MAIN_1D}
  let D = pu(1u) + pu(2u);
  if (gi >= D) { return; }
  let b = pu(0u);
  let bf = f32(b);
  var total = 0.0;
  for (var r = 0u; r < b; r = r + 1u) { total = total + z(r, gi); }
  let xbar = total / bf;
  var ss = 0.0;
  for (var r = 0u; r < b; r = r + 1u) { let d = z(r, gi) - xbar; ss = ss + d * d; }
  let s2 = select(0.0, ss / (bf - 1.0), b > 1u);
  let n = pf(5u);
  let n2 = n + bf;
  let o = pu(7u);
  let mu = S[o + gi];
  let delta = xbar - mu;
  S[o + gi] = mu + bf * delta / n2;
  let m = S[o + D + gi] + bf * s2 + n * bf * delta * delta / n2;
  S[o + D + gi] = m;
  S[o + 2u * D + gi] = sqrt(m / (n2 - 1.0 + pf(6u)));
}`;
}

/**
 * WGSL of the normalisation `out[r][c] = (z[r][c] − μ_c) / (σ_c + ε)` into a dense `[n, D]`.
 * Uniforms: 0 n, 1 dIn, 2 dOut, 3 uOff, 4 vOff, 6 ε (f32), 7 stateOff.
 */
export function normApplyWgsl(): string {
  return `${PARAMS_WGSL}
${
    bindingsWgsl([{ name: "U", type: "f32" }, { name: "V", type: "f32" }, {
      name: "S",
      type: "f32",
    }], [{ name: "out", type: "f32" }])
  }
${Z_WGSL}
${MAIN_1D}
  let D = pu(1u) + pu(2u);
  if (gi >= pu(0u) * D) { return; }
  let r = gi / D;
  let c = gi % D;
  let o = pu(7u);
  out[gi] = (z(r, c) - S[o + c]) / (S[o + 2u * D + c] + pf(6u));
}`;
}
