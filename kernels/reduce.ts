/**
 * Row reductions of a contiguous `[rows, len]` block: sum or max, times a scale (mean).
 * Two variants: one invocation per row (many rows), or one workgroup per row with a shared-memory
 * tree (few long rows).
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "./common.ts";

/** Reduction operator. */
export type ReduceOp = "sum" | "max";

/** Threads per row in the tree variant. */
export const REDUCE_TREE_WG = 256;

/** Longest row the one-invocation-per-row variant handles (llvmpipe caps loops at 65,535). */
export const REDUCE_ROW_MAX = 16384;

/** Elements one tree workgroup reduces (256 threads × 1,024 iterations each). */
export const REDUCE_CHUNK = REDUCE_TREE_WG * 1024;

function combine(op: ReduceOp, acc: string, v: string): string {
  return op === "sum" ? `${acc} + ${v}` : `max(${acc}, ${v})`;
}

function init(op: ReduceOp): string {
  return op === "sum" ? "0.0" : "-3.4028234663852886e38";
}

/**
 * Cache key.
 * @param tree Tree variant.
 */
export function reduceKey(op: ReduceOp, tree: boolean): string {
  return `reduce:${op}:${tree ? "tree" : "rows"}`;
}

/**
 * WGSL of a row reduction. Uniforms: 0 rows, 1 len, 2 input offset, 3 scale (f32); the tree
 * variant also reads 4 chunk length and 5 chunks per row, and writes one partial per chunk.
 * @param tree One workgroup per row.
 */
export function reduceWgsl(op: ReduceOp, tree: boolean): string {
  const decl = bindingsWgsl([{ name: "x", type: "f32" }], [{ name: "out", type: "f32" }]);
  if (!tree) {
    return `${PARAMS_WGSL}
${decl}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let len = pu(1u);
  let base = pu(2u) + gi * len;
  var acc: f32 = ${init(op)};
  for (var j = 0u; j < len; j = j + 1u) { acc = ${combine(op, "acc", "x[base + j]")}; }
  out[gi] = acc * pf(3u);
}`;
  }
  const wg = REDUCE_TREE_WG;
  // Workgroup w reduces chunk (w % nChunks) of row (w / nChunks) into out[w]: chunking keeps every
  // invocation's loop far below llvmpipe's silent 65,535-iteration cap.
  return `${PARAMS_WGSL}
${decl}
var<workgroup> buf: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.y * nwg.x + wid.x;
  let len = pu(1u);
  let chunkLen = pu(4u);
  let nChunks = pu(5u);
  let row = w / nChunks;
  let start = (w % nChunks) * chunkLen;
  let stop = min(len, start + chunkLen);
  let base = pu(2u) + row * len;
  var acc: f32 = ${init(op)};
  if (row < pu(0u)) {
    for (var j = start + lid; j < stop; j = j + ${wg}u) { acc = ${
    combine(op, "acc", "x[base + j]")
  }; }
  }
  buf[lid] = acc;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { buf[lid] = ${combine(op, "buf[lid]", "buf[lid + s]")}; }
    workgroupBarrier();
  }
  if (lid == 0u && row < pu(0u)) { out[w] = buf[0] * pf(3u); }
}`;
}

/** Static configuration of the column reduction. */
export interface ReduceColsConfig {
  /** Read and write four columns per invocation (cols and offsets multiples of 4). */
  vec4: boolean;
  /** Add the result into the output instead of overwriting it (gradient accumulation). */
  accumulate: boolean;
  /** Invocations per workgroup (small on CPU adapters, so that every core gets columns). */
  wg: number;
}

/** Cache key of the column reduction. */
export function reduceColsKey(op: ReduceOp, c: ReduceColsConfig): string {
  return `reduce:${op}:cols:v${c.vec4 ? 4 : 1}${c.accumulate ? "+" : ""}:w${c.wg}`;
}

/**
 * WGSL of a column reduction of a contiguous `[len, cols]` block: `out[j] (+)= op_i x[i, j]`,
 * one invocation per column (or four with `vec4`; consecutive invocations read consecutive
 * addresses). Uniforms: 0 cols (in units of the element type), 1 len, 2 input offset, 3 scale
 * (f32), 4 output offset (both offsets in units of the element type). `len` must stay under the
 * loop cap ({@link REDUCE_ROW_MAX}).
 */
export function reduceColsWgsl(op: ReduceOp, c: ReduceColsConfig): string {
  const t = c.vec4 ? "vec4<f32>" : "f32";
  return `${PARAMS_WGSL}
${bindingsWgsl([{ name: "x", type: t }], [{ name: "out", type: t }])}
@compute @workgroup_size(${c.wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let gi = (wid.y * nwg.x + wid.x) * ${c.wg}u + lid;
  let cols = pu(0u);
  if (gi >= cols) { return; }
  let len = pu(1u);
  var p = pu(2u) + gi;
  var acc = ${t}(${init(op)});
  for (var i = 0u; i < len; i = i + 1u) {
    acc = ${combine(op, "acc", "x[p]")};
    p = p + cols;
  }
  let o = pu(4u) + gi;
  out[o] = ${c.accumulate ? "out[o] + " : ""}acc * pf(3u);
}`;
}
