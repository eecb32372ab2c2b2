/**
 * Shared checks of int32 index tensors for the gather family.
 * @module
 */
import { fmtShape, type Shape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { materialize } from "./copy.ts";
import { cpuValues } from "./cpu_iter.ts";

/**
 * Throws unless `t` is a live int32 tensor.
 * @param what Role, e.g. `ids`.
 */
export function assertIndexTensor(t: Tensor, op: string, what: string): void {
  t.assertLive(op);
  if (t.dtype !== "int32") {
    throw new TypeError(
      `${op}() needs int32 ${what}, got ${t.dtype} of shape "${fmtShape(t.shape)}"`,
    );
  }
}

/**
 * On the CPU backend, throws a RangeError naming the first index outside `[0, size)`, its value
 * and its position. GPU index values are never read back here (kernels skip or zero them).
 * @param size Exclusive upper bound.
 * @param what Role of `ids`, e.g. `ids`.
 * @param target What is indexed, e.g. `the 5 rows of weight "[5,7]"`.
 */
export function assertIndicesInRange(
  ids: Tensor,
  size: number,
  op: string,
  what: string,
  target: string,
): void {
  if (ids.backend.kind !== "cpu") return;
  const v = cpuValues(ids);
  for (let i = 0; i < v.length; i++) {
    if (v[i] < 0 || v[i] >= size) {
      throw new RangeError(
        `${op}() index ${v[i]} at position ${position(i, ids.shape)} of ${what} ` +
          `"${fmtShape(ids.shape)}" is out of range for ${target}`,
      );
    }
  }
}

// A flat row-major index as a multi-index, e.g. [1,2].
function position(flat: number, shape: Shape): string {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return `[${idx.join(",")}]`;
}

/**
 * `t` when it is contiguous (any offset), else a contiguous copy; the caller disposes a copy.
 * @param t Any view.
 * @returns A contiguous tensor.
 */
export function contiguousView(t: Tensor): Tensor {
  return t.isContiguous ? t : materialize(t);
}
