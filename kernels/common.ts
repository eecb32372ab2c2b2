/**
 * Shared WGSL building blocks: the uniform block, binding declarations, global invocation index
 * over 2-D dispatches, and strided indexing. Kernels are pure text; they run nothing.
 * @module
 */

/** Largest rank a strided kernel indexes directly (after collapsing contiguous dimensions). */
export const MAX_RANK = 6;

/** Threads per workgroup of the 1-D elementwise kernels. */
export const WG_1D = 256;

/**
 * The uniform block every kernel declares: 64 u32 words read by index with `pu(i)` (u32),
 * `pi(i)` (i32) or `pf(i)` (f32 bits). One layout for all kernels keeps the binding code shared.
 */
export const PARAMS_WGSL = `
struct Params { v: array<vec4<u32>, 16> }
@group(0) @binding(0) var<uniform> P: Params;
fn pu(i: u32) -> u32 { return P.v[i / 4u][i % 4u]; }
fn pi(i: u32) -> i32 { return bitcast<i32>(P.v[i / 4u][i % 4u]); }
fn pf(i: u32) -> f32 { return bitcast<f32>(P.v[i / 4u][i % 4u]); }
`;

/** One storage binding of a kernel. */
export interface BindingDecl {
  /** WGSL variable name. */
  name: string;
  /** Element type, e.g. `f32`, `i32`, `vec4<f32>`. */
  type: string;
}

/**
 * Declares storage bindings: inputs read-only from binding 1, then read-write outputs.
 * @param inputs Input bindings in order.
 * @param outputs Output bindings in order.
 */
export function bindingsWgsl(
  inputs: readonly BindingDecl[],
  outputs: readonly BindingDecl[],
): string {
  let i = 1;
  const lines: string[] = [];
  for (const b of inputs) {
    lines.push(`@group(0) @binding(${i++}) var<storage, read> ${b.name}: array<${b.type}>;`);
  }
  for (const b of outputs) {
    lines.push(`@group(0) @binding(${i++}) var<storage, read_write> ${b.name}: array<${b.type}>;`);
  }
  return lines.join("\n");
}

/** Entry point header of a 1-D kernel whose flat invocation index is `gi`. */
export const MAIN_1D = `
@compute @workgroup_size(${WG_1D})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let gi = (wid.y * nwg.x + wid.x) * ${WG_1D}u + lid;
`;

/**
 * Workgroup counts covering `n` invocations of a 1-D kernel (folded into 2-D past 65,535).
 * @returns `[x, y, 1]`.
 */
export function grid1d(n: number, wg: number = WG_1D): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  if (groups <= 65535) return [groups, 1, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * WGSL function `soff(i, rank, shapeAt, strideAt, offset)`: the storage offset of flat index `i`
 * of a view whose shape and strides sit in the uniform block.
 */
export const STRIDED_WGSL = `
fn soff(i: u32, rank: u32, shapeAt: u32, strideAt: u32, offset: u32) -> u32 {
  var rem = i;
  var off = offset;
  for (var d = i32(rank) - 1; d >= 0; d = d - 1) {
    let s = pu(shapeAt + u32(d));
    off = off + (rem % s) * pu(strideAt + u32(d));
    rem = rem / s;
  }
  return off;
}
`;

/** Builds the 64-word uniform block on the TypeScript side. */
export class Uniforms {
  /** Raw words. */
  readonly words: Uint32Array = new Uint32Array(64);
  #f = new Float32Array(this.words.buffer);
  #i = new Int32Array(this.words.buffer);
  #n = 0;

  /** Appends unsigned words. */
  u32(...values: number[]): this {
    for (const v of values) this.words[this.#n++] = v >>> 0;
    return this;
  }

  /** Appends signed words. */
  i32(...values: number[]): this {
    for (const v of values) this.#i[this.#n++] = v;
    return this;
  }

  /** Appends float words. */
  f32(...values: number[]): this {
    for (const v of values) this.#f[this.#n++] = v;
    return this;
  }

  /**
   * Appends a list padded to `width` words (shapes and strides use width {@linkcode MAX_RANK}).
   * @param width Slots reserved.
   */
  list(values: readonly number[], width: number = MAX_RANK): this {
    for (let i = 0; i < width; i++) this.words[this.#n++] = (values[i] ?? 0) >>> 0;
    return this;
  }

  /** Words written so far. */
  get length(): number {
    return this.#n;
  }
}
