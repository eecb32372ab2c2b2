/**
 * Per-row picks: `selectAt` (`out[i] = x[i, idx[i]]`) with its one-hot gradient, and `argmax`
 * over the rows of a contiguous `[rows, len]` block.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "./common.ts";
import { colType, mainRowsWgsl, type RowsLayout } from "./gather.ts";

/**
 * `out[i] = x[i, idx[i]]` (0 where the index is outside `[0, V)`) for rows `[r0, r0 + rows)`.
 * Uniforms: 0 rows, 1 r0, 2 V, 3 element of row r0 in the `x` binding, 4 row stride,
 * 5 column stride, 6 idx offset, 7 idx stride.
 */
export function selectAtWgsl(): string {
  return `${PARAMS_WGSL}
${
    bindingsWgsl([{ name: "x", type: "f32" }, { name: "idx", type: "i32" }], [{
      name: "out",
      type: "f32",
    }])
  }
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let i = pu(1u) + gi;
  let j = idx[pu(6u) + i * pu(7u)];
  var v = 0.0;
  if (j >= 0i && u32(j) < pu(2u)) { v = x[pu(3u) + gi * pu(4u) + u32(j) * pu(5u)]; }
  out[i] = v;
}`;
}

/**
 * Cache key of the `selectAt` gradient kernel.
 * @param vec4 `vec4<f32>` columns.
 * @param layout Workgroup shape.
 */
export function selectAtGradKey(vec4: boolean, layout: RowsLayout): string {
  return `select:grad:${vec4 ? "v4" : "f"}:${layout.wx}`;
}

/**
 * The gradient of `selectAt`: a dense `[N, V]` block that is `g[i]` at `(i, idx[i])` and 0
 * elsewhere, as a row kernel over rows `[r0, r0 + rows)`. Uniforms (columns counted in the
 * element type): 0 columns per row, 1 r0, 2 index of row r0's first column in the `out` binding,
 * 3 g offset, 4 g stride, 5 idx offset, 6 idx stride, 7 rows of this launch.
 * @param vec4 `vec4<f32>` columns (V a multiple of 4).
 * @param layout Workgroup shape.
 */
export function selectAtGradWgsl(vec4: boolean, layout: RowsLayout): string {
  const { type } = colType(vec4);
  const value = vec4
    ? `let c = i32(col * 4u);
  let hit = vec4<i32>(j) == vec4<i32>(c, c + 1i, c + 2i, c + 3i);
  out[dst] = select(vec4<f32>(0.0), vec4<f32>(gv), hit);`
    : `out[dst] = select(0.0, gv, j == i32(col));`;
  return `${PARAMS_WGSL}
${bindingsWgsl([{ name: "g", type: "f32" }, { name: "idx", type: "i32" }], [{ name: "out", type }])}
${mainRowsWgsl(layout)}
  let cols = pu(0u);
  if (col >= cols || row >= pu(7u)) { return; }
  let i = pu(1u) + row;
  let j = idx[pu(5u) + i * pu(6u)];
  let gv = g[pu(3u) + i * pu(4u)];
  let dst = pu(2u) + row * cols + col;
  ${value}
}`;
}

/** Threads per row of the tree variant of argmax. */
export const ARGMAX_TREE_WG = 256;

// NaN test on the bits: immune to fast-math folding of `v != v`.
const ARGMAX_HELPERS = `
const NONE: u32 = 0xffffffffu;
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
`;

/**
 * Cache key of argmax.
 * @param tree One workgroup per row.
 */
export function argmaxKey(tree: boolean): string {
  return `argmax:${tree ? "tree" : "rows"}`;
}

/**
 * Index of the first maximum of each row (NaN values are skipped; a row of only NaN gives 0),
 * for rows `[r0, r0 + rows)`. Uniforms: 0 rows, 1 r0, 2 len, 3 element of row r0 in the `x`
 * binding.
 * @param tree One workgroup per row with a shared-memory tree (few long rows), else one
 *   invocation per row.
 */
export function argmaxWgsl(tree: boolean): string {
  const decl = bindingsWgsl([{ name: "x", type: "f32" }], [{ name: "out", type: "i32" }]);
  if (!tree) {
    return `${PARAMS_WGSL}
${decl}
${ARGMAX_HELPERS}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let len = pu(2u);
  let base = pu(3u) + gi * len;
  var best = 0.0;
  var bi = NONE;
  for (var j = 0u; j < len; j = j + 1u) {
    let v = x[base + j];
    if (!is_nan(v) && (bi == NONE || v > best)) { best = v; bi = j; }
  }
  out[pu(1u) + gi] = i32(select(bi, 0u, bi == NONE));
}`;
  }
  const wg = ARGMAX_TREE_WG;
  return `${PARAMS_WGSL}
${decl}
${ARGMAX_HELPERS}
var<workgroup> bv: array<f32, ${wg}>;
var<workgroup> bix: array<u32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.y * nwg.x + wid.x;
  let len = pu(2u);
  var best = 0.0;
  var bi = NONE;
  if (row < pu(0u)) {
    let base = pu(3u) + row * len;
    for (var j = lid; j < len; j = j + ${wg}u) {
      let v = x[base + j];
      if (!is_nan(v) && (bi == NONE || v > best)) { best = v; bi = j; }
    }
  }
  bv[lid] = best;
  bix[lid] = bi;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let oi = bix[lid + s];
      let ov = bv[lid + s];
      let mi = bix[lid];
      let mv = bv[lid];
      if (oi != NONE && (mi == NONE || ov > mv || (ov == mv && oi < mi))) {
        bv[lid] = ov;
        bix[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u && row < pu(0u)) { out[pu(1u) + row] = i32(select(bix[0], 0u, bix[0] == NONE)); }
}`;
}

/**
 * Cache key of the index comparison.
 * @param scalar Compare with the uniform value instead of a second tensor.
 */
export function indexEqualKey(scalar: boolean): string {
  return `select:equal:${scalar ? "s" : "t"}`;
}

/**
 * `out[i] = 1.0` where two contiguous int32 runs agree (or where `a` equals the uniform value),
 * else `0.0`. Uniforms: 0 n, 1 a offset, 2 b offset, 3 value (i32).
 * @param scalar Compare with the uniform value (then `b` is not read).
 */
export function indexEqualWgsl(scalar: boolean): string {
  const inputs = [{ name: "a", type: "i32" }, ...(scalar ? [] : [{ name: "b", type: "i32" }])];
  const rhs = scalar ? "pi(3u)" : "b[pu(2u) + gi]";
  return `${PARAMS_WGSL}
${bindingsWgsl(inputs, [{ name: "out", type: "f32" }])}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  out[gi] = select(0.0, 1.0, a[pu(1u) + gi] == ${rhs});
}`;
}
