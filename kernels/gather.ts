/**
 * Row gather: `out[o, j, :] = x[o, ids[j], :]` for `x` viewed as a contiguous `[outer, A, inner]`
 * block. Launched as a 2-D grid (x: columns, y: output rows) so no invocation divides by the row
 * length, optionally on `vec4<f32>` columns (about 4× fewer storage accesses on lavapipe).
 * @module
 */
import { bindingsWgsl, PARAMS_WGSL } from "./common.ts";

/** Threads per workgroup of the row kernels. */
export const ROWS_WG = 64;

/** Workgroup shape of a row kernel: `wx` columns by `wy` rows, `wx · wy` = {@linkcode ROWS_WG}. */
export interface RowsLayout {
  /** Invocations along a row. */
  wx: number;
  /** Rows per workgroup. */
  wy: number;
}

/**
 * The workgroup shape for rows of `cols` columns: as wide as the row up to 64, so narrow rows
 * (e.g. gathering single columns) still fill the workgroup with several rows.
 * @param cols Columns (or `vec4` columns) per row.
 */
export function rowsLayout(cols: number): RowsLayout {
  let wx = 1;
  while (wx < cols && wx < ROWS_WG) wx *= 2;
  return { wx, wy: ROWS_WG / wx };
}

/**
 * Most rows one launch of a row kernel covers (the grid's y axis holds at most 65,535 groups).
 * @param layout Workgroup shape.
 */
export function maxLaunchRows(layout: RowsLayout): number {
  return 65535 * layout.wy;
}

/**
 * Entry point header of a row kernel: `row` is the row of this launch and `col` the column (or
 * `vec4` column) of the invocation; the body must check both against its uniforms.
 * @param layout Workgroup shape.
 * @returns WGSL source of the header (the body closes the function).
 */
export function mainRowsWgsl(layout: RowsLayout): string {
  return `
@compute @workgroup_size(${layout.wx}, ${layout.wy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * ${layout.wy}u + lid.y;
  let col = wid.x * ${layout.wx}u + lid.x;
`;
}

/**
 * Workgroup counts of a row kernel.
 * @param cols Columns (or `vec4` columns) per row.
 * @param rows Rows of this launch (at most {@linkcode maxLaunchRows}).
 * @param layout Workgroup shape.
 * @returns `[x, y, 1]`.
 */
export function gridRows(cols: number, rows: number, layout: RowsLayout): [number, number, number] {
  return [Math.max(1, Math.ceil(cols / layout.wx)), Math.max(1, Math.ceil(rows / layout.wy)), 1];
}

/**
 * WGSL element type and zero of a column.
 * @param vec4 Four floats per column.
 * @returns Type name and zero literal.
 */
export function colType(vec4: boolean): { type: string; zero: string } {
  return vec4 ? { type: "vec4<f32>", zero: "vec4<f32>(0.0)" } : { type: "f32", zero: "0.0" };
}

/**
 * Cache key of the gather kernel.
 * @param vec4 `vec4<f32>` columns.
 * @param layout Workgroup shape.
 */
export function gatherRowsKey(vec4: boolean, layout: RowsLayout, addRows = false): string {
  return `gather:rows:${vec4 ? "v4" : "f"}:${layout.wx}${addRows ? ":+pos" : ""}`;
}

/**
 * WGSL of the gather kernel. One launch handles the output rows `[y0, y0 + rows)` and copies only
 * the source rows inside the bound window `[lo, hi)` of `x` (a tensor larger than one storage
 * binding takes several launches). An index outside `[0, A)` yields a zero row, written by the
 * launch whose `zero` flag is set.
 *
 * Uniforms (columns counted in the element type): 0 columns per row, 1 n (indices), 2 A,
 * 3 window first row lo, 4 window end hi, 5 index of row lo's first column in the `x` binding,
 * 6 ids offset, 7 first output row y0, 8 zero flag, 9 rows of this launch; with `addRows`,
 * 10 offset of the added table `p` and 11 its period T: output row `r` also gets row `r mod T`
 * of `p` (a token embedding plus its position's, when the ids are `[B, T]`).
 * @param vec4 `vec4<f32>` columns.
 * @param layout Workgroup shape.
 * @param addRows Add a row of a second table (binding 3) to every output row.
 */
export function gatherRowsWgsl(vec4: boolean, layout: RowsLayout, addRows = false): string {
  const { type, zero } = colType(vec4);
  const ins = [{ name: "x", type }, { name: "ids", type: "i32" }];
  if (addRows) ins.push({ name: "p", type });
  const plus = addRows ? ` + p[pu(10u) + (orow % pu(11u)) * cols + col]` : "";
  return `${PARAMS_WGSL}
${bindingsWgsl(ins, [{ name: "out", type }])}
${mainRowsWgsl(layout)}
  let cols = pu(0u);
  if (col >= cols || row >= pu(9u)) { return; }
  let n = pu(1u);
  let a = pu(2u);
  let orow = pu(7u) + row;
  let o = orow / n;
  let id = ids[pu(6u) + orow - o * n];
  let dst = orow * cols + col;
  if (id < 0i || u32(id) >= a) {
    if (pu(8u) != 0u) { out[dst] = ${zero}${plus}; }
    return;
  }
  let r = o * a + u32(id);
  if (r < pu(3u) || r >= pu(4u)) { return; }
  out[dst] = x[pu(5u) + (r - pu(3u)) * cols + col]${plus};
}`;
}
