// Shared fixtures of the nn tests: seeded host values and reading arena state back.
import { rng } from "../../../engine/ops/creation.ts";
import { type Shape, sizeOf } from "../../../engine/shape.ts";

/**
 * Seeded uniform values in [lo, hi).
 * @param shape Shape (its size is the count).
 * @returns Float64 values.
 */
export function seeded(shape: Shape, seed: number, lo = -1, hi = 1): Float64Array {
  const next = rng(seed);
  return Float64Array.from({ length: sizeOf(shape) }, () => lo + (hi - lo) * next());
}

/**
 * The float32 rounding of values (what a GPU tensor holds after upload).
 * @returns Rounded float64 values.
 */
export function f32(v: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(v as ArrayLike<number>));
}
