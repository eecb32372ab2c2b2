/**
 * Blocked Cholesky kernels (float32) for the MALMEN ridge solve on the GPU. Every kernel works on
 * a padded square working matrix whose order is a multiple of {@linkcode CHOL_NB}, so no kernel
 * needs bounds checks and every row starts on a vec4 boundary:
 * - `shift`: copy an n × n matrix into the padded one and add λ (or e^λ̂) to the diagonal;
 * - `potrf`: factor one diagonal tile in workgroup memory;
 * - `panel`: the triangular solve of the tile column below it;
 * - `gemm`: `C −= op(A)·op(B)` on sub-blocks (trailing update and the solve sweeps);
 * - `trsm`: the triangular solve of one row block of the right-hand sides.
 * Only the lower triangle of the factor is meaningful.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL, WG_1D } from "../common.ts";

/** Tile edge: the padded order and every block boundary are multiples of it. */
export const CHOL_NB = 64;

/** Edge of the square output block of one `gemm` workgroup (8 × 8 invocations of 8 × 8). */
export const GEMM_BLOCK = 64;

/**
 * WGSL of the shift-and-pad copy: `out[i][j] = M[i][j] (i, j < n) + λ·[i = j < n] + [i = j ≥ n]`.
 * Uniforms: 0 n, 1 padded order np, 2 offset of M, 3 λ (f32) or the element offset of λ̂.
 * With `fromLog`, λ = exp(lamHat[offset]) is read from binding 2 (no readback).
 * @param fromLog λ comes from a log-domain tensor.
 */
export function shiftWgsl(fromLog: boolean): string {
  const inputs = [{ name: "M", type: "f32" }];
  if (fromLog) inputs.push({ name: "lamHat", type: "f32" });
  return `${PARAMS_WGSL}
${bindingsWgsl(inputs, [{ name: "out", type: "f32" }])}
${MAIN_1D}
  let n = pu(0u);
  let np = pu(1u);
  if (gi >= np * np) { return; }
  let i = gi / np;
  let j = gi % np;
  var v = 0.0;
  if (i < n && j < n) { v = M[pu(2u) + i * n + j]; }
  if (i == j) {
    if (i < n) { v = v + ${fromLog ? "exp(lamHat[pu(3u)])" : "pf(3u)"}; } else { v = 1.0; }
  }
  out[gi] = v;
}`;
}

/**
 * WGSL factoring the diagonal tile at (p0, p0) in place with one workgroup of
 * {@linkcode CHOL_NB} invocations (one per tile row). A non-positive pivot yields NaN, which
 * then propagates to the solution. Uniforms: 0 np, 1 p0.
 */
export function potrfWgsl(): string {
  const nb = CHOL_NB;
  return `${PARAMS_WGSL}
${bindingsWgsl([], [{ name: "W", type: "f32" }])}
var<workgroup> T: array<f32, ${nb * nb}>;
@compute @workgroup_size(${nb})
fn main(@builtin(local_invocation_index) t: u32) {
  let np = pu(0u);
  let base = pu(1u) * np + pu(1u);
  for (var k = 0u; k < ${nb}u; k = k + 1u) { T[t * ${nb}u + k] = W[base + t * np + k]; }
  for (var j = 0u; j < ${nb}u; j = j + 1u) {
    workgroupBarrier();
    if (t == j) {
      let s = T[j * ${nb}u + j];
      // Through a let: Chromium's WGSL compiler rejects a NaN as a constant expression.
      let nan_bits = 0x7fc00000u;
      T[j * ${nb}u + j] = select(bitcast<f32>(nan_bits), sqrt(s), s > 0.0);
    }
    workgroupBarrier();
    if (t > j) {
      let l = T[t * ${nb}u + j] / T[j * ${nb}u + j];
      T[t * ${nb}u + j] = l;
      for (var k = j + 1u; k <= t; k = k + 1u) {
        T[t * ${nb}u + k] = T[t * ${nb}u + k] - l * T[k * ${nb}u + j];
      }
    }
  }
  workgroupBarrier();
  for (var k = 0u; k < ${nb}u; k = k + 1u) {
    W[base + t * np + k] = select(0.0, T[t * ${nb}u + k], k <= t);
  }
}`;
}

/**
 * WGSL of the panel solve `A[r, p0:p1] ← A[r, p0:p1]·L11⁻ᵀ` for every row r ≥ p1 = p0 + NB,
 * one invocation per row, with L11 staged transposed in workgroup memory so each elimination
 * step is a run of vec4 updates (unrolled, so the row stays in registers). Uniforms: 0 np, 1 p0, 2 number of rows below the tile.
 */
export function panelWgsl(): string {
  const nb = CHOL_NB;
  const q = nb / 4;
  return `${PARAMS_WGSL}
${bindingsWgsl([], [{ name: "W", type: "vec4<f32>" }])}
var<workgroup> U: array<vec4<f32>, ${nb * q}>;
${MAIN_1D}
  let np = pu(0u);
  let p0 = pu(1u);
  // U[j][k] = L11[k][j]: row j of U is column j of L11 (zero above the diagonal of L11).
  for (var e = lid; e < ${nb * q}u; e = e + ${WG_1D}u) {
    let j = e / ${q}u;
    let kq = e % ${q}u;
    var v = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c = c + 1u) {
      let k = kq * 4u + c;
      let w = W[((p0 + k) * np + p0 + j) / 4u];
      v[c] = select(0.0, w[j % 4u], k >= j);
    }
    U[e] = v;
  }
  workgroupBarrier();
  if (gi >= pu(2u)) { return; }
  let row = (p0 + ${nb}u + gi) * np + p0;
${panelBody(nb)}
}`;
}

const COMP = ["x", "y", "z", "w"];

// The unrolled elimination of one row (static indices keep the row in registers).
function panelBody(nb: number): string {
  const q = nb / 4;
  const out: string[] = [];
  for (let kq = 0; kq < q; kq++) out.push(`  var a${kq} = W[row / 4u + ${kq}u];`);
  for (let j = 0; j < nb; j++) {
    const jq = j >> 2;
    const c = COMP[j & 3];
    out.push(`  let x${j} = a${jq}.${c} / U[${j * q + jq}u].${c};`);
    for (let kq = jq; kq < q; kq++) out.push(`  a${kq} = a${kq} - x${j} * U[${j * q + kq}u];`);
    out.push(`  a${jq}.${c} = x${j};`);
  }
  for (let kq = 0; kq < q; kq++) out.push(`  W[row / 4u + ${kq}u] = a${kq};`);
  return out.join("\n");
}

/** Static configuration of one `gemm` pipeline. */
export interface CholGemmConfig {
  /** A is read transposed (stored K × M). */
  transA: boolean;
  /** B is read transposed (stored N × K). */
  transB: boolean;
  /** A lives in the writable working matrix (binding 1) instead of a separate input. */
  aInW: boolean;
  /** Skip output blocks strictly above the diagonal (the trailing update is symmetric). */
  lower: boolean;
}

/**
 * Cache key of a `gemm` pipeline.
 */
export function cholGemmKey(c: CholGemmConfig): string {
  return `chol:gemm:${c.transA ? "T" : "N"}${c.transB ? "T" : "N"}:${c.aInW ? "w" : "l"}:${
    c.lower ? "lo" : "full"
  }`;
}

/**
 * WGSL of `C −= op(A)·op(B)` on sub-blocks of row-major matrices, 8 × 8 outputs per invocation
 * and {@linkcode GEMM_BLOCK}-square blocks per workgroup. M, N must be multiples of
 * {@linkcode GEMM_BLOCK}; K, every leading dimension and every offset multiples of 4. B and C
 * always live in the writable matrix (a read-only copy of it would alias a writable binding).
 * Uniforms: 0 M, 1 N, 2 K, 3 offA, 4 lda, 5 offB, 6 ldb, 7 offC, 8 ldc (elements).
 */
export function cholGemmWgsl(c: CholGemmConfig): string {
  const decl = c.aInW
    ? bindingsWgsl([], [{ name: "W", type: "vec4<f32>" }])
    : bindingsWgsl([{ name: "L", type: "vec4<f32>" }], [{ name: "W", type: "vec4<f32>" }]);
  const A = c.aInW ? "W" : "L";
  const lines: string[] = [];
  const e = (s: string): void => {
    lines.push(s);
  };
  // Loads for k .. k+3: a(r, kk) and the vec4 of B over 8 columns (two vec4 halves).
  const aVal: string[][] = [];
  if (c.transA) {
    // A stored [K, M]: vec4 along m, two per kk.
    for (let kk = 0; kk < 4; kk++) {
      e(`    let a${kk}_0 = ${A}[(aR + (k + ${kk}u) * lda) / 4u];`);
      e(`    let a${kk}_1 = ${A}[(aR + (k + ${kk}u) * lda) / 4u + 1u];`);
    }
    for (let r = 0; r < 8; r++) {
      aVal.push([0, 1, 2, 3].map((kk) => `a${kk}_${r >> 2}[${r & 3}]`));
    }
  } else {
    for (let r = 0; r < 8; r++) e(`    let a${r} = ${A}[(aR + ${r}u * lda + k) / 4u];`);
    for (let r = 0; r < 8; r++) aVal.push([0, 1, 2, 3].map((kk) => `a${r}[${kk}]`));
  }
  const bVal: string[][] = [];
  if (c.transB) {
    // B stored [N, K]: vec4 along k per column; regroup into vec4 over columns.
    for (let j = 0; j < 8; j++) e(`    let b${j} = W[(bR + ${j}u * ldb + k) / 4u];`);
    for (let kk = 0; kk < 4; kk++) {
      bVal.push([0, 1].map((h) => {
        const parts = [0, 1, 2, 3].map((cc) => `b${4 * h + cc}[${kk}]`);
        return `vec4<f32>(${parts.join(", ")})`;
      }));
    }
  } else {
    for (let kk = 0; kk < 4; kk++) {
      e(`    let b${kk}_0 = W[(bR + (k + ${kk}u) * ldb) / 4u];`);
      e(`    let b${kk}_1 = W[(bR + (k + ${kk}u) * ldb) / 4u + 1u];`);
      bVal.push([`b${kk}_0`, `b${kk}_1`]);
    }
  }
  for (let r = 0; r < 8; r++) {
    for (let h = 0; h < 2; h++) {
      for (let kk = 0; kk < 4; kk++) {
        e(`    acc${r}_${h} = fma(vec4<f32>(${aVal[r][kk]}), ${bVal[kk][h]}, acc${r}_${h});`);
      }
    }
  }
  const accDecl = [];
  for (let r = 0; r < 8; r++) {
    accDecl.push(`  var acc${r}_0 = vec4<f32>(0.0);`, `  var acc${r}_1 = vec4<f32>(0.0);`);
  }
  const stores = [];
  for (let r = 0; r < 8; r++) {
    for (let h = 0; h < 2; h++) {
      stores.push(
        `  W[(cR + ${r}u * ldc) / 4u + ${h}u] = W[(cR + ${r}u * ldc) / 4u + ${h}u] - ` +
          `acc${r}_${h};`,
      );
    }
  }
  const aBase = c.transA ? "pu(3u) + m0" : "pu(3u) + m0 * lda";
  const bBase = c.transB ? "pu(5u) + n0 * ldb" : "pu(5u) + n0";
  return `${PARAMS_WGSL}
${decl}
@compute @workgroup_size(8, 8, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${c.lower ? "if (wg.x > wg.y) { return; }" : ""}
  let K = pu(2u); let lda = pu(4u); let ldb = pu(6u); let ldc = pu(8u);
  let m0 = wg.y * ${GEMM_BLOCK}u + lid.y * 8u;
  let n0 = wg.x * ${GEMM_BLOCK}u + lid.x * 8u;
  let aR = ${aBase};
  let bR = ${bBase};
  let cR = pu(7u) + m0 * ldc + n0;
${accDecl.join("\n")}
  for (var k = 0u; k < K; k = k + 4u) {
${lines.join("\n")}
  }
${stores.join("\n")}
}`;
}

/**
 * WGSL of the block triangular solve of a right-hand-side row block in place: rows
 * [i0, i0 + NB) of Y (vec4 columns, one invocation per column quad) become
 * `L_ii⁻¹·Y_i` (forward) or `L_ii⁻ᵀ·Y_i` (backward), with L_ii the diagonal tile of the factor.
 * Uniforms: 0 np (leading dimension of L), 1 i0, 2 mp (leading dimension of Y), 3 column quads.
 * @param upper Solve with the transposed tile (backward sweep).
 */
export function trsmWgsl(upper: boolean): string {
  const nb = CHOL_NB;
  // Dot form over the already solved rows; the factor's tile is read as scalars. (A fully
  // unrolled variant compiles for minutes on llvmpipe and runs slower: 64 live vec4 spill.)
  const body = upper
    ? `  for (var rr = 0u; rr < ${nb}u; rr = rr + 1u) {
    let r = ${nb - 1}u - rr;
    var s = Y[(i0 + r) * mq + cq];
    for (var k = r + 1u; k < ${nb}u; k = k + 1u) { s = s - L[(i0 + k) * np + i0 + r] * x[k]; }
    x[r] = s / L[(i0 + r) * np + i0 + r];
  }`
    : `  for (var r = 0u; r < ${nb}u; r = r + 1u) {
    var s = Y[(i0 + r) * mq + cq];
    for (var k = 0u; k < r; k = k + 1u) { s = s - L[(i0 + r) * np + i0 + k] * x[k]; }
    x[r] = s / L[(i0 + r) * np + i0 + r];
  }`;
  return `${PARAMS_WGSL}
${bindingsWgsl([{ name: "L", type: "f32" }], [{ name: "Y", type: "vec4<f32>" }])}
${MAIN_1D}
  let cq = gi;
  if (cq >= pu(3u)) { return; }
  let np = pu(0u);
  let i0 = pu(1u);
  let mq = pu(2u) / 4u;
  var x: array<vec4<f32>, ${nb}>;
${body}
  for (var r = 0u; r < ${nb}u; r = r + 1u) { Y[(i0 + r) * mq + cq] = x[r]; }
}`;
}
