/**
 * Shape and view ops with autograd: reshape, permute/transpose, slice, expand, contiguous.
 * Views share storage; nothing is copied unless a layout cannot be expressed as strides.
 * @module
 */
import { empty } from "../alloc.ts";
import { record } from "./tape.ts";
import { checkShape, contiguousStrides, fmtShape, type Shape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { copyInto, fill, materialize, view } from "./copy.ts";
import { sumTo } from "./reduce.ts";

/**
 * A tensor with the same elements in a new shape (one dimension may be -1). A view when the
 * input is contiguous, else a copy.
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x.assertLive("reshape");
  const resolved = resolveShape(shape, x.size, x.shape);
  let out: Tensor;
  if (x.isContiguous) out = view(x, resolved, contiguousStrides(resolved), x.offset);
  else {
    const c = materialize(x);
    out = view(c, resolved, contiguousStrides(resolved), 0);
    c.dispose();
  }
  return record(out, "reshape", [x], (g) => [reshape(g, x.shape)]);
}

function resolveShape(shape: readonly number[], size: number, from: Shape): number[] {
  const out = [...shape];
  const hole = out.indexOf(-1);
  if (hole >= 0) {
    const rest = sizeOf(out.filter((_, i) => i !== hole));
    out[hole] = rest === 0 ? 0 : size / rest;
  }
  checkShape(out);
  if (sizeOf(out) !== size) {
    throw new RangeError(
      `Cannot reshape "${fmtShape(from)}" (${size} elements) to "${fmtShape(shape)}"`,
    );
  }
  return out;
}

/**
 * Reorders dimensions (a view).
 * @param perm New order: output dimension i is input dimension `perm[i]`.
 */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  x.assertLive("permute");
  const rank = x.rank;
  const p = perm.map((d) => (d < 0 ? d + rank : d));
  if (p.length !== rank || new Set(p).size !== rank || p.some((d) => d < 0 || d >= rank)) {
    throw new RangeError(
      `Invalid permutation "${fmtShape(perm)}" for shape "${fmtShape(x.shape)}"`,
    );
  }
  const out = view(x, p.map((d) => x.shape[d]), p.map((d) => x.strides[d]), x.offset);
  const inverse = new Array<number>(rank);
  p.forEach((d, i) => (inverse[d] = i));
  return record(out, "permute", [x], (g) => [permute(g, inverse)]);
}

/** Swaps two dimensions (a view); defaults to the last two. */
export function transpose(x: Tensor, d0 = -2, d1 = -1): Tensor {
  const perm = Array.from({ length: x.rank }, (_, i) => i);
  const a = d0 < 0 ? d0 + x.rank : d0;
  const b = d1 < 0 ? d1 + x.rank : d1;
  [perm[a], perm[b]] = [perm[b], perm[a]];
  return permute(x, perm);
}

/**
 * A sub-range view: `starts[i] ≤ index < ends[i]` per dimension (missing entries = whole dim,
 * negative values count from the end).
 * @param starts Start per dimension.
 * @param ends End per dimension (exclusive).
 */
export function slice(x: Tensor, starts: readonly number[], ends?: readonly number[]): Tensor {
  x.assertLive("slice");
  const lo: number[] = [];
  const shape: number[] = [];
  let offset = x.offset;
  for (let d = 0; d < x.rank; d++) {
    const n = x.shape[d];
    let s = starts[d] ?? 0;
    let e = ends?.[d] ?? n;
    if (s < 0) s += n;
    if (e < 0) e += n;
    if (!(Number.isInteger(s) && Number.isInteger(e) && 0 <= s && s <= e && e <= n)) {
      throw new RangeError(
        `Invalid slice [${starts[d]}, ${ends?.[d]}) of dimension ${d} (size ${n}) of "${
          fmtShape(x.shape)
        }"`,
      );
    }
    lo.push(s);
    shape.push(e - s);
    offset += s * x.strides[d];
  }
  const out = view(x, shape, x.strides, offset);
  return record(out, "slice", [x], (g) => {
    const full = empty(x.shape, "float32", g.backend);
    fill(full, 0);
    const region = view(
      full,
      shape,
      full.strides,
      lo.reduce((o, s, d) => o + s * full.strides[d], 0),
    );
    copyInto(region, g);
    region.dispose();
    return [full];
  });
}

/**
 * Broadcasts to a larger shape as a view (stride 0 on expanded dimensions).
 * @param shape Target shape (same or higher rank; expanded dims must be 1 in `x`).
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  x.assertLive("expand");
  const lead = shape.length - x.rank;
  if (lead < 0) {
    throw new RangeError(`Cannot expand "${fmtShape(x.shape)}" to "${fmtShape(shape)}"`);
  }
  const strides = shape.map((n, i) => {
    if (i < lead) return 0;
    const d = x.shape[i - lead];
    if (d === n) return x.strides[i - lead];
    if (d === 1) return 0;
    throw new RangeError(`Cannot expand "${fmtShape(x.shape)}" to "${fmtShape(shape)}"`);
  });
  const out = view(x, shape, strides, x.offset);
  return record(out, "expand", [x], (g) => [sumTo(g, x.shape)]);
}

/**
 * A contiguous copy (or `x` itself when already contiguous), recorded for autograd.
 * @returns A contiguous tensor with offset 0.
 */
export function contiguous(x: Tensor): Tensor {
  const out = materialize(x);
  if (out === x) return x;
  return record(out, "contiguous", [x], (g) => [g]);
}

/**
 * Inserts a size-1 dimension.
 * @param dim Where (negative counts from the end of the result).
 */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = dim < 0 ? dim + x.rank + 1 : dim;
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

/**
 * Removes size-1 dimensions (all, or the one given).
 * @param dim Optional dimension.
 */
export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((n) => n !== 1));
  const d = dim < 0 ? dim + x.rank : dim;
  if (x.shape[d] !== 1) throw new RangeError(`Dimension ${dim} of "${fmtShape(x.shape)}" is not 1`);
  return reshape(x, x.shape.filter((_, i) => i !== d));
}
