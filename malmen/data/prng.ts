/**
 * Seeded pseudo-random numbers (mulberry32), so generated data is identical for a given seed on
 * every machine: it only uses 32-bit integer arithmetic, never `Math.random`.
 * @module
 */

/**
 * A seeded stream of pseudo-random numbers.
 * @example
 * ```ts
 * import { createRng, type Rng } from "./prng.ts";
 * const rng: Rng = createRng(1);
 * console.log(rng.shuffle([1, 2, 3]));
 * ```
 */
export interface Rng {
  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number;
  /** Next float in [0, 1). */
  nextFloat(): number;
  /** Next integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
  /** One element chosen uniformly. */
  pick<T>(items: readonly T[]): T;
  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[];
}

/**
 * Creates a mulberry32 generator.
 * @param seed An integer in [0, 2^32).
 * @returns A generator whose sequence depends only on `seed`.
 * @example
 * ```ts
 * import { createRng } from "./prng.ts";
 * const rng = createRng(42);
 * console.log(rng.nextInt(10)); // same value on every run
 * ```
 */
export function createRng(seed: number): Rng {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`Seed must be an integer in [0, 2^32), got "${seed}"`);
  }
  let state = seed >>> 0;
  const nextUint32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  const nextFloat = (): number => nextUint32() / 4294967296;
  const nextInt = (maxExclusive: number): number => {
    if (!Number.isInteger(maxExclusive) || maxExclusive <= 0) {
      throw new RangeError(`Bound must be a positive integer, got "${maxExclusive}"`);
    }
    return Math.floor(nextFloat() * maxExclusive);
  };
  return {
    nextUint32,
    nextFloat,
    nextInt,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError("Cannot pick from an empty list");
      return items[nextInt(items.length)];
    },
    shuffle<T>(items: T[]): T[] {
      for (let i = items.length - 1; i > 0; i--) {
        const j = nextInt(i + 1);
        const tmp = items[i];
        items[i] = items[j];
        items[j] = tmp;
      }
      return items;
    },
  };
}
