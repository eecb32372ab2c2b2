/**
 * Deterministic scatter-add of rows (the gradient of a gather/embedding) without float atomics.
 * The index keys are sorted on the device first (`kernels/sort.ts`), so each destination row's
 * sources form one run of ascending positions. Then:
 *
 * 1. `zero` clears the destination with `vec4` stores where possible (on lavapipe a dense
 *    destination costs about as much as this clear: most rows of a large vocabulary receive
 *    nothing, so nothing else touches them);
 * 2. `segments` runs one invocation per (sorted position, column); the first position of each
 *    run sums the run in order and adds it to its row.
 *
 * Positions are processed in blocks of at most {@linkcode SEGMENT_BLOCK}, one launch each, so no
 * loop runs longer than that (lavapipe stops a loop silently after 65,535 iterations) and a run
 * split over blocks is added in block order: the result is bit-for-bit reproducible.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "./common.ts";
import { colType, mainRowsWgsl, type RowsLayout } from "./gather.ts";

/** Most sorted positions one launch of the segment kernel covers. */
export const SEGMENT_BLOCK = 65535;

/**
 * Cache key of the clear kernel.
 * @param vec4 `vec4<f32>` stores.
 */
export function zeroKey(vec4: boolean): string {
  return `scatter:zero:${vec4 ? "v4" : "f"}`;
}

/**
 * Clears `count` columns from `base` of the bound window. Uniforms: 0 count, 1 base.
 * @param vec4 `vec4<f32>` stores.
 */
export function zeroWgsl(vec4: boolean): string {
  const { type, zero } = colType(vec4);
  return `${PARAMS_WGSL}
${bindingsWgsl([], [{ name: "out", type }])}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  out[pu(1u) + gi] = ${zero};
}`;
}

/**
 * Cache key of the segment kernel.
 * @param vec4 `vec4<f32>` columns.
 * @param layout Workgroup shape.
 */
export function segmentsKey(vec4: boolean, layout: RowsLayout): string {
  return `scatter:segments:${vec4 ? "v4" : "f"}:${layout.wx}`;
}

/**
 * The run sums, a row kernel whose row `y0 + row = o · L + (p - b0)` is sorted position `p` of block
 * `[b0, b1)` (length L) for outer slice `o`. The first position of each run (within the block)
 * sums `g[o, j, :]` over the run's positions `j` (`.y` of the keys) and adds the sum to row
 * `o · A + id` of `[outer, A, inner]`, if that row lies in the bound window `[lo, hi)`.
 * Uniforms (columns counted in the element type): 0 columns per row, 1 n, 2 A, 3 b0, 4 b1, 5 L,
 * 6 rows of this launch, 7 `g` offset, 8 lo, 9 hi, 10 index of row lo's first column in the
 * `out` binding, 11 y0.
 * @param vec4 `vec4<f32>` columns.
 * @param layout Workgroup shape.
 */
export function segmentsWgsl(vec4: boolean, layout: RowsLayout): string {
  const { type, zero } = colType(vec4);
  return `${PARAMS_WGSL}
${bindingsWgsl([{ name: "g", type }, { name: "keys", type: "vec2<u32>" }], [{ name: "out", type }])}
${mainRowsWgsl(layout)}
  let cols = pu(0u);
  if (col >= cols || row >= pu(6u)) { return; }
  let len = pu(5u);
  let t = pu(11u) + row;
  let o = t / len;
  let b0 = pu(3u);
  let p = b0 + t - o * len;
  let key = keys[p];
  let a = pu(2u);
  if (key.x >= a) { return; }
  if (p > b0 && keys[p - 1u].x == key.x) { return; }
  let r = o * a + key.x;
  if (r < pu(8u) || r >= pu(9u)) { return; }
  let base = pu(7u) + o * pu(1u) * cols + col;
  let b1 = pu(4u);
  var acc = ${zero};
  for (var q = p; q < b1; q = q + 1u) {
    let kq = keys[q];
    if (kq.x != key.x) { break; }
    acc = acc + g[base + kq.y * cols];
  }
  let dst = pu(10u) + (r - pu(8u)) * cols + col;
  out[dst] = out[dst] + acc;
}`;
}
