/**
 * A seeded random number generator, so fuzz tests are reproducible.
 * @module
 */

/**
 * Mulberry32: a small, fast 32-bit PRNG.
 * @param seed Any integer.
 * @returns A function giving floats in [0, 1).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random integer in `[0, n)`.
 * @param n Exclusive upper bound.
 */
export function randomInt(random: () => number, n: number): number {
  return Math.floor(random() * n);
}
