/**
 * GPT-2's pre-tokenisation: the text is cut into words, and BPE never merges across words.
 * @module
 */

/**
 * GPT-2's word pattern: contractions, letter runs, digit runs and other-symbol runs (each with
 * at most one leading space), then whitespace. Every character matches some branch, so the
 * words always concatenate back to the text.
 *
 * @example
 * ```ts
 * import { GPT2_WORD_PATTERN } from "./pretokenize.ts";
 * console.log("it's 42".match(GPT2_WORD_PATTERN)); // ["it", "'s", " 42"]
 * ```
 */
export const GPT2_WORD_PATTERN: RegExp =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Splits text into GPT-2 words.
 * @param text Any string.
 * @returns The words, in order; they concatenate back to `text`.
 * @example
 * ```ts
 * import { splitGpt2Words } from "./pretokenize.ts";
 * console.log(splitGpt2Words("Hello  world!")); // ["Hello", " ", " world", "!"]
 * ```
 */
export function splitGpt2Words(text: string): string[] {
  return text.match(GPT2_WORD_PATTERN) ?? [];
}
