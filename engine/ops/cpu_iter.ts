/**
 * Float64 reference helpers: walking strided views on the CPU backend.
 * @module
 */
import type { Shape } from "../shape.ts";
import { sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";

/**
 * Calls `fn(i, offsets)` for every flat index `i` of `shape` in row-major order, with the
 * storage offset of each operand (strides aligned with `shape`; 0 on broadcast dimensions).
 * @param shape Iteration shape.
 * @param strides One stride list per operand.
 * @param offsets Start offset per operand.
 * @param fn Visitor; `offs` is reused between calls.
 */
export function forEachStrided(
  shape: Shape,
  strides: readonly Shape[],
  offsets: readonly number[],
  fn: (i: number, offs: readonly number[]) => void,
): void {
  const n = sizeOf(shape);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  const offs = [...offsets];
  for (let i = 0; i < n; i++) {
    fn(i, offs);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      for (let k = 0; k < offs.length; k++) offs[k] += strides[k][d];
      if (idx[d] < shape[d]) break;
      for (let k = 0; k < offs.length; k++) offs[k] -= strides[k][d] * shape[d];
      idx[d] = 0;
    }
  }
}

/**
 * The values of a CPU tensor in row-major order (a copy when it is a view).
 * @param t A CPU tensor.
 * @returns Float64 (or int32) values.
 */
export function cpuValues(t: Tensor): Float64Array | Int32Array {
  const src = t.storage.array!;
  if (t.isContiguous) return src.subarray(t.offset, t.offset + t.size);
  const out = t.dtype === "int32" ? new Int32Array(t.size) : new Float64Array(t.size);
  forEachStrided(t.shape, [t.strides], [t.offset], (i, o) => (out[i] = src[o[0]]));
  return out;
}
