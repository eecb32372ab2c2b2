/**
 * Strided copy (any view into any view of the same shape) and fill kernels.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL, STRIDED_WGSL } from "./common.ts";

/**
 * Uniforms: 0 n, 1 rank, 2 src offset, 3 dst offset, 4..9 shape, 10..15 src strides,
 * 16..21 dst strides (all in units of the element type: vec4s when `vec4`).
 * @param type `f32` or `i32`.
 * @param vec4 Move `vec4`s (the caller divides sizes, offsets and strides by 4).
 */
export function copyWgsl(type: "f32" | "i32", vec4 = false): string {
  const t = vec4 ? `vec4<${type}>` : type;
  return `${PARAMS_WGSL}
${STRIDED_WGSL}
${bindingsWgsl([{ name: "src", type: t }], [{ name: "dst", type: t }])}
${MAIN_1D}
  let n = pu(0u);
  if (gi >= n) { return; }
  let rank = pu(1u);
  dst[soff(gi, rank, 4u, 16u, pu(3u))] = src[soff(gi, rank, 4u, 10u, pu(2u))];
}`;
}

/**
 * Fills `dst[off .. off + n)` with one 32-bit pattern. Uniforms: 0 n, 1 bits, 2 offset.
 * @param type `f32` or `i32`.
 */
export function fillWgsl(type: "f32" | "i32"): string {
  return `${PARAMS_WGSL}
${bindingsWgsl([], [{ name: "dst", type }])}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  dst[pu(2u) + gi] = bitcast<${type}>(pu(1u));
}`;
}
