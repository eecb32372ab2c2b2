// Seeded host values shared by the GPT tests.
import { rng } from "../../../../engine/ops/creation.ts";
import { type Shape, sizeOf } from "../../../../engine/shape.ts";

/**
 * Seeded uniform values in [lo, hi).
 * @param shape Shape (its size is the count).
 * @param seed Seed.
 * @param lo Lower bound.
 * @param hi Upper bound.
 * @returns Float64 values.
 */
export function seeded(shape: Shape, seed: number, lo = -1, hi = 1): Float64Array {
  const next = rng(seed);
  return Float64Array.from({ length: sizeOf(shape) }, () => lo + (hi - lo) * next());
}

/**
 * Seeded integers in [0, n).
 * @param count How many.
 * @param n Exclusive upper bound.
 * @param seed Seed.
 * @returns The integers.
 */
export function seededInts(count: number, n: number, seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: count }, () => Math.floor(next() * n));
}
