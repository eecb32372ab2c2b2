/**
 * Validation of token ids, shared by the tokenizers so their errors read the same.
 * @module
 */

/**
 * Checks that `id` is a valid token id.
 * @param vocabSize Number of tokens in the vocabulary.
 * @throws {RangeError} If `id` is not an integer in `0 .. vocabSize - 1`.
 * @example
 * ```ts
 * import { checkTokenId } from "./token_id.ts";
 * checkTokenId(5, 10); // fine
 * ```
 */
export function checkTokenId(id: number, vocabSize: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new RangeError(`Unknown token id "${id}": vocabulary has ${vocabSize} tokens`);
  }
}

/**
 * Checks that a value passed as text is a string, since `encode()` is called from untyped
 * code (JSON, datasets) where a stray `undefined` would otherwise encode as "undefined".
 * @throws {TypeError} If it is not a string.
 * @example
 * ```ts
 * import { checkText } from "./token_id.ts";
 * checkText("hello"); // fine
 * ```
 */
export function checkText(text: unknown): asserts text is string {
  if (typeof text !== "string") {
    throw new TypeError(`Invalid text "${String(text)}": expected a string, got ${typeof text}`);
  }
}
