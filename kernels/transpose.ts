/**
 * Batched 2-D transpose: `dst[z, c, r] = src[z, r, c]` from any strided `[Z, R, C]` view into
 * a dense `[Z, C, R]` block. Each invocation moves one 4×4 tile, so the index math is paid once
 * per 16 elements (the generic strided copy pays a div/mod chain per element) and, where the
 * layout allows, the tile is read as four `vec4` rows and written as four `vec4` columns: on
 * llvmpipe every storage load costs the same per lane whatever its width, so vec4 moves four
 * times the data per load.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "./common.ts";

/** Static configuration of one transpose pipeline. */
export interface TransposeConfig {
  /** Read rows as `vec4` (needs column stride 1, C, row/batch strides and offset ≡ 0 mod 4). */
  vecIn: boolean;
  /** Write columns as `vec4` (needs R and the destination offset ≡ 0 mod 4). */
  vecOut: boolean;
}

/** Pipeline cache key. */
export function transposeKey(c: TransposeConfig): string {
  return `transpose:${c.vecIn ? 4 : 1}${c.vecOut ? 4 : 1}`;
}

/**
 * WGSL of the tile transpose. Uniforms: 0 R, 1 C, 2 tiles per row of tiles (⌈C/4⌉),
 * 3 tiles per matrix, 4 total tiles, 5 src offset, 6 src batch stride, 7 src row stride,
 * 8 src column stride, 9 dst offset. The destination is dense `[Z, C, R]`.
 */
export function transposeWgsl(c: TransposeConfig): string {
  const inT = c.vecIn ? "vec4<f32>" : "f32";
  const outT = c.vecOut ? "vec4<f32>" : "f32";
  const rows = [0, 1, 2, 3];
  // Source rows are clamped (edge tiles re-read the last row; the stores are masked).
  const load = c.vecIn
    ? rows.map((i) => `  let v${i} = src[(base + min(r0 + ${i}u, R - 1u) * sr + c0) >> 2u];`)
    : rows.map((i) => {
      const row = `base + min(r0 + ${i}u, R - 1u) * sr`;
      const col = (j: number): string => `src[${row} + min(c0 + ${j}u, C - 1u) * sc]`;
      return `  let v${i} = vec4<f32>(${col(0)}, ${col(1)}, ${col(2)}, ${col(3)});`;
    });
  const comp = ["x", "y", "z", "w"];
  const store = comp.map((cc, j) => {
    const col = `vec4<f32>(v0.${cc}, v1.${cc}, v2.${cc}, v3.${cc})`;
    const at = `dBase + (c0 + ${j}u) * R + r0`;
    if (c.vecOut) return `  if (c0 + ${j}u < C) { dst[(${at}) >> 2u] = ${col}; }`;
    return `  if (c0 + ${j}u < C) {
    let w${j} = ${col};
${rows.map((i) => `    if (r0 + ${i}u < R) { dst[${at} + ${i}u] = w${j}[${i}]; }`).join("\n")}
  }`;
  });
  return `${PARAMS_WGSL}
${bindingsWgsl([{ name: "src", type: inT }], [{ name: "dst", type: outT }])}
${MAIN_1D}
  if (gi >= pu(4u)) { return; }
  let R = pu(0u);
  let C = pu(1u);
  let z = gi / pu(3u);
  let t = gi - z * pu(3u);
  let tr = t / pu(2u);
  let r0 = tr * 4u;
  let c0 = (t - tr * pu(2u)) * 4u;
  let base = pu(5u) + z * pu(6u);
  let sr = pu(7u);
  let sc = pu(8u);
  let dBase = pu(9u) + z * R * C;
${load.join("\n")}
${store.join("\n")}
}`;
}
