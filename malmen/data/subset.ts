/**
 * Subsets for quick runs (`--quick`): a prefix keeps the split's own order, so a quick run is a
 * reproducible slice of the full one.
 * @module
 */

/**
 * The first `m` records (all of them when there are fewer).
 * @param records Any list.
 * @param m How many to keep; a non-negative integer.
 * @returns A new array with at most `m` items.
 * @throws {RangeError} If `m` is negative or not an integer.
 * @example
 * ```ts
 * import { takeFirst } from "./subset.ts";
 * console.log(takeFirst([1, 2, 3], 2)); // [1, 2]
 * ```
 */
export function takeFirst<T>(records: readonly T[], m: number): T[] {
  if (!Number.isInteger(m) || m < 0) {
    throw new RangeError(`Subset size must be a non-negative integer, got "${m}"`);
  }
  return records.slice(0, m);
}
