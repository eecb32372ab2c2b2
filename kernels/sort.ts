/**
 * Bitonic sort of index keys `(id, position)` as `vec2<u32>`, ascending by id then position.
 * Keys are unique (positions differ), so the result
 * does not depend on scheduling: this is what makes scatter-add deterministic without float
 * atomics.
 *
 * Every invocation does constant work per pass. That matters on lavapipe, where each loop of a
 * shader stops silently after 65,535 iterations in total per invocation (nested loops share the
 * count), so per-bucket sorts or long scans inside one invocation are not safe there.
 *
 * A sort of `P` keys (a power of two, at least {@linkcode SORT_BLOCK}) runs as: one local launch
 * (stages 2..512 in workgroup memory, also reading the ids), then per later stage `k` one global
 * launch per distance `j ≥ 512` and one local launch for `j ≤ 256`.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL } from "./common.ts";

/** Keys sorted by one workgroup in workgroup memory. */
export const SORT_BLOCK = 512;

const KEY_HELPERS = `
const NONE: u32 = 0xffffffffu;
fn less(a: vec2<u32>, b: vec2<u32>) -> bool { return a.x < b.x || (a.x == b.x && a.y < b.y); }
`;

/**
 * Local bitonic stages `k0..k1` (powers of two) with distances `j ≤ 256`, one 512-key block per
 * workgroup. With the `init` uniform set, keys are built from the ids instead of read: position
 * `p < n` gets `(id, p)`, or `(NONE, p)` for an id outside `[0, A)`; padding gets `(NONE, NONE)`.
 * Uniforms: 0 n, 1 A, 2 ids offset, 3 init, 4 k0, 5 k1, 6 blocks.
 */
export function sortLocalWgsl(): string {
  const half = SORT_BLOCK / 2;
  return `${PARAMS_WGSL}
${bindingsWgsl([{ name: "ids", type: "i32" }], [{ name: "keys", type: "vec2<u32>" }])}
${KEY_HELPERS}
var<workgroup> sh: array<vec2<u32>, ${SORT_BLOCK}>;
fn load(p: u32) -> vec2<u32> {
  if (pu(3u) == 0u) { return keys[p]; }
  if (p >= pu(0u)) { return vec2<u32>(NONE, NONE); }
  let id = ids[pu(2u) + p];
  if (id < 0i || u32(id) >= pu(1u)) { return vec2<u32>(NONE, p); }
  return vec2<u32>(u32(id), p);
}
@compute @workgroup_size(${half})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let block = wid.y * nwg.x + wid.x;
  if (block >= pu(6u)) { return; }
  let base = block * ${SORT_BLOCK}u;
  sh[lid] = load(base + lid);
  sh[lid + ${half}u] = load(base + lid + ${half}u);
  workgroupBarrier();
  for (var k = pu(4u); k <= pu(5u); k = k << 1u) {
    for (var j = min(k >> 1u, ${half}u); j > 0u; j = j >> 1u) {
      let i = 2u * lid - (lid & (j - 1u));
      let a = sh[i];
      let b = sh[i + j];
      if (less(b, a) == (((base + i) & k) == 0u)) {
        sh[i] = b;
        sh[i + j] = a;
      }
      workgroupBarrier();
    }
  }
  keys[base + lid] = sh[lid];
  keys[base + lid + ${half}u] = sh[lid + ${half}u];
}`;
}

/**
 * One global bitonic pass (stage `k`, distance `j ≥ 512`), one compare-exchange per invocation.
 * Uniforms: 0 pairs (P / 2), 1 j, 2 k.
 */
export function sortGlobalWgsl(): string {
  return `${PARAMS_WGSL}
${bindingsWgsl([], [{ name: "keys", type: "vec2<u32>" }])}
${KEY_HELPERS}
${MAIN_1D}
  if (gi >= pu(0u)) { return; }
  let j = pu(1u);
  let i = 2u * gi - (gi & (j - 1u));
  let a = keys[i];
  let b = keys[i + j];
  if (less(b, a) == ((i & pu(2u)) == 0u)) {
    keys[i] = b;
    keys[i + j] = a;
  }
}`;
}
