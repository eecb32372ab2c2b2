/**
 * Turns split fractions into whole subject counts (internal to the world generator).
 * @module
 */

/**
 * Fractions of subjects in each split; they must sum to 1.
 * @example
 * ```ts
 * import type { SplitFractions } from "./split_sizes.ts";
 * const split: SplitFractions = { train: 0.6, val: 0.1, edit: 0.2, locality: 0.1 };
 * console.log(split.edit);
 * ```
 */
export interface SplitFractions {
  /** Editor meta-training subjects. */
  train: number;
  /** Editor validation subjects. */
  val: number;
  /** Held-out evaluation subjects. */
  edit: number;
  /** Subjects whose facts serve only as locality probes and are never edited. */
  locality: number;
}

/**
 * The split names, in allocation order.
 * @example
 * ```ts
 * import { SPLIT_NAMES } from "./split_sizes.ts";
 * console.log(SPLIT_NAMES); // ["train", "val", "edit", "locality"]
 * ```
 */
export const SPLIT_NAMES: readonly (keyof SplitFractions)[] = ["train", "val", "edit", "locality"];

/**
 * Whole counts summing to `n`, as close to `n * fraction` as possible (largest remainder), with
 * at least one for every positive fraction so small kinds still appear in every split.
 * @param n Number of subjects of one kind; 0 gives all-zero counts.
 * @param fractions Validated fractions.
 * @param kind The entity kind, for the error message.
 * @returns A count per split.
 * @throws {RangeError} If `n` is positive but smaller than the number of positive fractions.
 * @example
 * ```ts
 * import { splitCounts } from "./split_sizes.ts";
 * splitCounts(16, { train: 0.5, val: 0.1, edit: 0.32, locality: 0.08 }, "country");
 * // { train: 8, val: 2, edit: 5, locality: 1 }
 * ```
 */
export function splitCounts(
  n: number,
  fractions: SplitFractions,
  kind: string,
): SplitFractions {
  const counts: SplitFractions = { train: 0, val: 0, edit: 0, locality: 0 };
  // A kind may be left out entirely (e.g. a world without people).
  if (n === 0) return counts;
  const positive = SPLIT_NAMES.filter((s) => fractions[s] > 0);
  if (n < positive.length) {
    throw new RangeError(
      `Need at least "${positive.length}" ${kind} subjects to fill every split, got "${n}"`,
    );
  }
  for (const s of SPLIT_NAMES) counts[s] = Math.floor(n * fractions[s]);
  let left = n - SPLIT_NAMES.reduce((sum, s) => sum + counts[s], 0);
  const byRemainder = [...SPLIT_NAMES].sort((a, b) =>
    (n * fractions[b] - counts[b]) - (n * fractions[a] - counts[a])
  );
  for (const s of byRemainder) {
    if (left === 0) break;
    counts[s]++;
    left--;
  }
  for (const s of positive) {
    if (counts[s] > 0) continue;
    const donor = SPLIT_NAMES.reduce((a, b) => (counts[b] > counts[a] ? b : a));
    counts[donor]--;
    counts[s]++;
  }
  return counts;
}
