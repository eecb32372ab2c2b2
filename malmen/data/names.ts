/**
 * Invented names built from syllables, so the synthetic world owes nothing to real entities and
 * its vocabulary size is under our control.
 * @module
 */

import type { Rng } from "./prng.ts";

// Syllable parts, repeated where a sound should be more common.
const ONSETS: readonly string[] = [
  "b",
  "d",
  "f",
  "g",
  "k",
  "l",
  "m",
  "n",
  "p",
  "r",
  "s",
  "t",
  "v",
  "z",
  "l",
  "m",
  "n",
  "r",
  "s",
  "t",
  "br",
  "dr",
  "kr",
  "tr",
  "st",
  "th",
  "sh",
];
const NUCLEI: readonly string[] = ["a", "e", "i", "o", "u", "a", "e", "o", "a", "ai", "ou"];
const CODAS: readonly string[] = ["n", "r", "l", "s", "m", "n", "r", "th"];

/** Makes pronounceable names that never repeat within one world. */
export interface NameMaker {
  /**
   * A new lowercase stem of `minSyllables`..`maxSyllables` syllables, distinct from every stem
   * and reserved word seen so far.
   */
  stem(minSyllables: number, maxSyllables: number): string;
  /**
   * Claims a whole name (case-insensitive); false if it was already taken, so composed names
   * (stem + suffix) can be retried instead of colliding.
   */
  claim(name: string): boolean;
}

/**
 * Creates a name maker drawing from `rng`.
 * @param rng Seeded random stream; the names depend only on its state.
 * @param reserved Words names must not equal (template words, affixes), case-insensitive.
 * @example
 * ```ts
 * import { createRng } from "./prng.ts";
 * import { createNameMaker } from "./names.ts";
 * const names = createNameMaker(createRng(1), ["the", "is"]);
 * console.log(names.stem(2, 2)); // e.g. "velan"
 * ```
 */
export function createNameMaker(rng: Rng, reserved: Iterable<string>): NameMaker {
  const taken = new Set<string>();
  for (const word of reserved) taken.add(word.toLowerCase());
  const syllable = (last: boolean): string =>
    rng.pick(ONSETS) + rng.pick(NUCLEI) +
    (rng.nextFloat() < (last ? 0.4 : 0.1) ? rng.pick(CODAS) : "");
  return {
    stem(minSyllables: number, maxSyllables: number): string {
      for (let attempt = 0; attempt < 10_000; attempt++) {
        const count = minSyllables + rng.nextInt(maxSyllables - minSyllables + 1);
        let word = "";
        for (let i = 0; i < count; i++) word += syllable(i === count - 1);
        // Short stems read like function words; long ones cost many tokens.
        if (word.length < 3 || word.length > 8 || taken.has(word)) continue;
        taken.add(word);
        return word;
      }
      throw new RangeError(
        `Could not invent a new name of "${minSyllables}"-"${maxSyllables}" syllables`,
      );
    },
    claim(name: string): boolean {
      const key = name.toLowerCase();
      if (taken.has(key)) return false;
      taken.add(key);
      return true;
    },
  };
}

/**
 * Upper-cases the first letter.
 * @param word Any word.
 * @returns The word with its first letter capitalised.
 * @example
 * ```ts
 * import { capitalize } from "./names.ts";
 * console.log(capitalize("velan")); // "Velan"
 * ```
 */
export function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
