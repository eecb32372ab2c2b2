/**
 * Global gradient norm over parameter-arena segments, in two passes: per-segment partial sums
 * of squares (one workgroup per chunk, `vec4` loads), then one workgroup that adds the
 * partials, takes the square root and derives the clip factor on the device. A third kernel
 * scales gradients by that factor in place.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "./common.ts";

/** Threads per workgroup of both reduction passes. */
export const NORM_WG = 256;

/** Most partial sums one segment produces (the first pass's workgroup count). */
export const NORM_MAX_PARTIALS = 256;

/** `vec4` elements each thread of the first pass handles at least, so short segments use few groups. */
const VEC4_PER_THREAD = 8;

/**
 * Workgroups of the first pass over `n4` `vec4` elements.
 * @param n4 Vec4 count of the segment.
 * @returns Between 1 and {@linkcode NORM_MAX_PARTIALS}.
 */
export function normPartialGroups(n4: number): number {
  return Math.min(NORM_MAX_PARTIALS, Math.max(1, Math.ceil(n4 / (NORM_WG * VEC4_PER_THREAD))));
}

const TREE = `
  buf[lid] = acc;
  workgroupBarrier();
  for (var s = ${NORM_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { buf[lid] = buf[lid] + buf[lid + s]; }
    workgroupBarrier();
  }`;

const HEADER = `var<workgroup> buf: array<f32, ${NORM_WG}>;
@compute @workgroup_size(${NORM_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {`;

/**
 * First pass: `partials[base + w] = Σ g²` over the grid-strided share of workgroup `w`.
 * Uniforms: 0 n4 (vec4 count), 1 partial base index, 2 input offset in vec4 units.
 */
export function sumSquaresPartialWgsl(): string {
  return `${PARAMS_WGSL}
${bindingsWgsl([{ name: "g", type: "vec4<f32>" }], [{ name: "partials", type: "f32" }])}
${HEADER}
  let n4 = pu(0u);
  let base = pu(2u);
  let stride = nwg.x * ${NORM_WG}u;
  var acc: f32 = 0.0;
  for (var i = wid.x * ${NORM_WG}u + lid; i < n4; i = i + stride) {
    let v = g[base + i];
    acc = acc + dot(v, v);
  }
${TREE}
  if (lid == 0u) { partials[pu(1u) + wid.x] = buf[0]; }
}`;
}

/**
 * Second pass: `norm = √Σ partials`; `state[0]` = clip factor `min(1, maxNorm / (norm + 1e-6))`
 * (1 when clipping is off), `state[1]` = norm, `out[outOffset]` = norm.
 * Uniforms: 0 partial count, 1 clip on (0/1), 2 maxNorm (f32), 3 out offset.
 */
export function sumSquaresFinalWgsl(): string {
  return `${PARAMS_WGSL}
${
    bindingsWgsl([{ name: "partials", type: "f32" }], [{ name: "state", type: "f32" }, {
      name: "out",
      type: "f32",
    }])
  }
${HEADER}
  let count = pu(0u);
  var acc: f32 = 0.0;
  for (var i = lid; i < count; i = i + ${NORM_WG}u) { acc = acc + partials[i]; }
${TREE}
  if (lid == 0u) {
    let norm = sqrt(buf[0]);
    var factor: f32 = 1.0;
    if (pu(1u) != 0u) { factor = min(1.0, pf(2u) / (norm + 1e-6)); }
    state[0] = factor;
    state[1] = norm;
    out[pu(3u)] = norm;
  }
}`;
}

/**
 * In-place `g *= state[0]` over a segment (gradient clipping without an optimizer).
 * Uniforms: 0 n4 (vec4 count).
 */
export function scaleByFactorWgsl(): string {
  return `${PARAMS_WGSL}
${bindingsWgsl([{ name: "state", type: "f32" }], [{ name: "g", type: "vec4<f32>" }])}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  g[gi] = g[gi] * state[0];
}`;
}

/** Zeroes a segment with `vec4` stores (gradient reset). Uniforms: 0 n4 (vec4 count). */
export function zeroVec4Wgsl(): string {
  return `${PARAMS_WGSL}
${bindingsWgsl([], [{ name: "g", type: "vec4<f32>" }])}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  g[gi] = vec4<f32>(0.0);
}`;
}
