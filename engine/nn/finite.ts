/**
 * Finite checks of values on the host: a diverged run (NaN or ±Inf) must stop with an error that
 * says where, never be saved, loaded or applied as if it were a result.
 * @module
 */

/** Values that are NaN or ±Inf where finite numbers were required. */
export class NonFiniteError extends Error {
  /**
   * Creates the error.
   * @param message What is non-finite and where (a tensor, a step, a file).
   */
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteError";
  }
}

/** What {@linkcode countNonFinite} found. */
export interface NonFiniteCount {
  /** Number of NaN or ±Inf values. */
  count: number;
  /** Index of the first one, or -1. */
  first: number;
  /** The first one (NaN, Infinity or -Infinity), or 0 when there is none. */
  value: number;
}

/**
 * Counts the NaN and ±Inf values of an array (and anything that is not a number, such as the
 * null a JSON file holds where NaN was written).
 * @param data Values (any numeric array).
 * @returns The count and the first offender.
 */
export function countNonFinite(data: ArrayLike<number>): NonFiniteCount {
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    // x - x is 0 for every finite x and NaN for NaN and ±Inf: one test for both. A JSON array
    // stores NaN as null, which is no number either.
    if (typeof x !== "number" || x - x !== 0) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { count, first, value: first < 0 ? 0 : data[first] };
}

/**
 * Describes the non-finite values of one named array, or returns null when all are finite.
 * @param name What the array is (e.g. `parameter "h.0.mlp.c_fc.weight"`).
 * @param data Its values.
 * @returns E.g. `parameter "w" has 3 of 64 values non-finite (NaN at index 5)`, or null.
 */
export function describeNonFinite(name: string, data: ArrayLike<number>): string | null {
  const c = countNonFinite(data);
  if (c.count === 0) return null;
  return `${name} has ${c.count} of ${data.length} values non-finite (${c.value} at index ${c.first})`;
}

/**
 * Throws a {@linkcode NonFiniteError} naming the first array that holds NaN or ±Inf.
 * @param arrays Name → values.
 * @param context Prefix of the message: what was being done (e.g. `Refusing to write "x"`).
 */
export function assertFinite(
  arrays: Iterable<readonly [string, ArrayLike<number>]>,
  context: string,
): void {
  const bad: string[] = [];
  for (const [name, data] of arrays) {
    const d = describeNonFinite(name, data);
    if (d !== null) bad.push(d);
  }
  if (bad.length === 0) return;
  const more = bad.length > 3 ? `, and ${bad.length - 3} more` : "";
  throw new NonFiniteError(`${context}: ${bad.slice(0, 3).join("; ")}${more}`);
}
