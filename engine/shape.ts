/**
 * Shape arithmetic: sizes, contiguous strides, broadcasting, axis normalisation.
 * @module
 */

/** A tensor shape: one non-negative integer per dimension. */
export type Shape = readonly number[];

/**
 * Number of elements of a shape (1 for a scalar).
 * @returns The product of its dimensions.
 */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Row-major strides of a contiguous tensor.
 * @returns Strides in elements.
 */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/**
 * Formats a shape for error messages, e.g. `[2,3]`.
 * @returns The bracketed list.
 */
export function fmtShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

/**
 * Checks that a shape is a list of non-negative integers.
 * @param what Name used in the error.
 */
export function checkShape(shape: Shape, what = "shape"): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new TypeError(
        `Invalid ${what} "${fmtShape(shape)}": dimensions must be non-negative integers`,
      );
    }
  }
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(
        `Cannot broadcast shapes "${fmtShape(a)}" and "${
          fmtShape(b)
        }": dimension ${i} differs (${da} vs ${db})`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides that read a tensor of `shape`/`strides` as if it had `target` shape (0 on broadcast
 * dimensions).
 * @param shape Source shape.
 * @param strides Source strides.
 * @param target Broadcast shape (same or higher rank).
 * @returns Strides aligned with `target`.
 */
export function broadcastStrides(shape: Shape, strides: Shape, target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const lead = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) {
    out[lead + i] = shape[i] === 1 && target[lead + i] !== 1 ? 0 : strides[i];
  }
  return out;
}

/**
 * Normalises axes (negative counts from the end) and sorts them.
 * @param axes One axis, a list, or undefined for all.
 * @returns Sorted unique axes.
 */
export function normalizeAxes(
  axes: number | readonly number[] | undefined,
  rank: number,
): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : [...axes];
  const out = new Set<number>();
  for (const a of list) {
    const n = a < 0 ? a + rank : a;
    if (!Number.isInteger(n) || n < 0 || n >= rank) {
      throw new RangeError(`Axis "${a}" is out of range for rank ${rank}`);
    }
    out.add(n);
  }
  return [...out].sort((x, y) => x - y);
}

/**
 * Merges adjacent dimensions that every operand walks contiguously, and drops size-1
 * dimensions, so strided kernels see the smallest rank (and stay under their rank limit).
 * @param shape Common iteration shape.
 * @param strides One stride list per operand, aligned with `shape`.
 * @returns The collapsed shape and strides (a scalar keeps rank 1).
 */
export function collapseDims(
  shape: Shape,
  strides: readonly Shape[],
): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [1]) };
  return { shape: outShape, strides: outStrides };
}
