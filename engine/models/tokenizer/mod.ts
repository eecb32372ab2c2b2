/**
 * Tokenizers: GPT-2's byte-level BPE, and a compact remapping of it for small models. Both
 * implement {@linkcode Tokenizer} and save to JSON next to model checkpoints.
 *
 * @example
 * ```ts
 * import { buildCompactTokenizer, loadGpt2Tokenizer, tokenizerFromJSON } from "./mod.ts";
 * const gpt2 = await loadGpt2Tokenizer();
 * console.log(gpt2.encode("hello world")); // [31373, 995]
 * const compact = buildCompactTokenizer(gpt2, ["The Eiffel Tower is in Paris."]);
 * const restored = await tokenizerFromJSON(compact.toJSON(), gpt2);
 * console.log(restored.encode(" Paris")); // same ids as compact.encode(" Paris")
 * ```
 * @module
 */

export { buildCompactTokenizer, CompactTokenizer } from "./compact.ts";
export type { CompactTokenizerOptions } from "./compact.ts";
export { Gpt2Tokenizer, loadGpt2Tokenizer } from "./gpt2.ts";
export { tokenizerFromJSON } from "./json.ts";
export { loadHfTokenizer } from "./hf_tokenizer.ts";
export type { Gpt2Vocabulary } from "./vocabulary.ts";
export type { MergeRule } from "./bpe.ts";
export type {
  CompactTokenizerJSON,
  Gpt2TokenizerJSON,
  Tokenizer,
  TokenizerJSON,
} from "./tokenizer.ts";
