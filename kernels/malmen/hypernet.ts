/**
 * Fused kernels of the MALMEN hyper-network:
 * - block tail `h + s ⊙ ReLU(q + b) + t` (forward elementwise; backward one pass per column
 *   producing ∂q and the column sums for b, s and t);
 * - value differences `d_j = −η (u_j·ũ_j) δ̃_j` with ũ, δ̃ the two halves of the block output h
 *   (one invocation per row, forward and backward).
 * All matrices are dense row-major; offsets come in uniforms.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "../common.ts";

const f32 = (name: string): { name: string; type: string } => ({ name, type: "f32" });

/**
 * WGSL of the tail forward over `[n, D]`: `out = h + s[c]·max(q + b[c], 0) + t[c]`.
 * Uniforms: 0 n·D, 1 D, 2 hOff, 3 qOff, 4 bOff, 5 sOff, 6 tOff.
 */
export function tailForwardWgsl(): string {
  return `${PARAMS_WGSL}
${bindingsWgsl(["H", "Q", "Bv", "Sv", "Tv"].map(f32), [f32("out")])}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let c = gi % pu(1u);
  let a = Q[pu(3u) + gi] + Bv[pu(4u) + c];
  out[gi] = H[pu(2u) + gi] + Sv[pu(5u) + c] * max(a, 0.0) + Tv[pu(6u) + c];
}`;
}

/**
 * WGSL of the tail backward, one invocation per column c: `gq = g·s[c]·[q + b[c] > 0]` for every
 * row, and the column sums `Σgq` (b), `Σ g·ReLU(q + b)` (s), `Σg` (t) into rows 0, 1, 2 of a
 * `[3, D]` output. Uniforms: 0 n, 1 D, 2 gOff, 3 qOff, 4 bOff, 5 sOff.
 */
export function tailBackwardWgsl(): string {
  return `${PARAMS_WGSL}
${bindingsWgsl(["G", "Q", "Bv", "Sv"].map(f32), [f32("gq"), f32("sums")])}
${MAIN_1D}
  let D = pu(1u);
  if (gi >= D) { return; }
  let n = pu(0u);
  let b = Bv[pu(4u) + gi];
  let s = Sv[pu(5u) + gi];
  var sb = 0.0;
  var ss = 0.0;
  var st = 0.0;
  for (var r = 0u; r < n; r = r + 1u) {
    let g = G[pu(2u) + r * D + gi];
    let a = Q[pu(3u) + r * D + gi] + b;
    let d = select(0.0, g * s, a > 0.0);
    gq[r * D + gi] = d;
    sb = sb + d;
    ss = ss + g * max(a, 0.0);
    st = st + g;
  }
  sums[gi] = sb;
  sums[D + gi] = ss;
  sums[2u * D + gi] = st;
}`;
}

// Row j's dot product of u with ũ (the first dIn entries of h).
const ROW_DOT = `
fn rowDot(j: u32) -> f32 {
  let dIn = pu(1u);
  let D = dIn + pu(2u);
  var a = 0.0;
  for (var c = 0u; c < dIn; c = c + 1u) { a = a + U[pu(3u) + j * dIn + c] * H[pu(4u) + j * D + c]; }
  return a;
}
`;

/**
 * WGSL of the value differences, one invocation per row: `d[j][c] = −η·(u_j·ũ_j)·δ̃_j[c]`.
 * Uniforms: 0 n, 1 dIn, 2 dOut, 3 uOff, 4 hOff, 5 etaOff.
 */
export function valueDiffForwardWgsl(): string {
  return `${PARAMS_WGSL}
${bindingsWgsl(["U", "H", "Eta"].map(f32), [f32("out")])}
${ROW_DOT}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let dIn = pu(1u);
  let dOut = pu(2u);
  let D = dIn + dOut;
  let k = -Eta[pu(5u)] * rowDot(gi);
  for (var c = 0u; c < dOut; c = c + 1u) {
    out[gi * dOut + c] = k * H[pu(4u) + gi * D + dIn + c];
  }
}`;
}

/**
 * Cache key of the value-difference backward.
 * @param withKeys Also write the gradient of the keys u.
 */
export function valueDiffBackwardKey(withKeys: boolean): string {
  return `malmen:vdiff:bwd:${withKeys ? "u" : "nou"}`;
}

/**
 * WGSL of the value-difference backward, one invocation per row j, with a = u_j·ũ_j and
 * c = g_j·δ̃_j: `gh_j = −η[c·u_j ; a·g_j]`, the row's η term `a·c` (summed and negated by the
 * caller), and optionally `gu_j = −η·c·ũ_j`.
 * Uniforms: 0 n, 1 dIn, 2 dOut, 3 uOff, 4 hOff, 5 etaOff, 6 gOff.
 * @param withKeys Also write the gradient of the keys.
 */
export function valueDiffBackwardWgsl(withKeys: boolean): string {
  const outputs = [f32("gh"), f32("pe")];
  if (withKeys) outputs.push(f32("gu"));
  return `${PARAMS_WGSL}
${bindingsWgsl(["U", "H", "Eta", "G"].map(f32), outputs)}
${ROW_DOT}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let dIn = pu(1u);
  let dOut = pu(2u);
  let D = dIn + dOut;
  let eta = Eta[pu(5u)];
  let h0 = pu(4u) + gi * D;
  let g0 = pu(6u) + gi * dOut;
  let a = rowDot(gi);
  var c = 0.0;
  for (var q = 0u; q < dOut; q = q + 1u) { c = c + G[g0 + q] * H[h0 + dIn + q]; }
  for (var q = 0u; q < dIn; q = q + 1u) {
    gh[gi * D + q] = -eta * c * U[pu(3u) + gi * dIn + q];
${withKeys ? "    gu[gi * dIn + q] = -eta * c * H[h0 + q];" : ""}
  }
  for (var q = 0u; q < dOut; q = q + 1u) { gh[gi * D + dIn + q] = -eta * a * G[g0 + q]; }
  pe[gi] = a * c;
}`;
}
