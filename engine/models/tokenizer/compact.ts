/**
 * A small-vocabulary tokenizer for small models: the GPT-2 tokens a corpus uses, remapped to
 * dense ids, plus the 256 single-byte tokens so that any text stays encodable.
 *
 * Id layout built by {@linkcode buildCompactTokenizer}:
 * - `0`: `<|endoftext|>`, the only special token, first so it is stable across corpora;
 * - `1 .. 256`: the single-byte tokens, in byte order (id `1 + b` is byte `b`);
 * - `257 ..`: the other kept GPT-2 tokens, most frequent first, ties by GPT-2 id.
 * @module
 */

import type { Gpt2Tokenizer } from "./gpt2.ts";
import { checkText, checkTokenId } from "./token_id.ts";
import type { CompactTokenizerJSON, Tokenizer } from "./tokenizer.ts";

/**
 * A tokenizer whose ids are a dense subset of GPT-2's. Text is encoded with GPT-2; a GPT-2 token
 * outside the kept set falls back to the single-byte tokens of its bytes, so decoding still
 * gives the text back. Build one with {@linkcode buildCompactTokenizer}.
 *
 * @example
 * ```ts
 * import { loadGpt2Tokenizer } from "./gpt2.ts";
 * import { buildCompactTokenizer } from "./compact.ts";
 * const gpt2 = await loadGpt2Tokenizer();
 * const compact = buildCompactTokenizer(gpt2, ["the cat sat on the mat"]);
 * console.log(compact.vocabSize); // 257 fixed tokens + the corpus' own
 * console.log(compact.decode(compact.encode("the dog"))); // "the dog"
 * ```
 */
export class CompactTokenizer implements Tokenizer {
  #gpt2: Gpt2Tokenizer;
  #gpt2Ids: readonly number[];
  // GPT-2 id to compact id, -1 where not kept: a typed array is much faster than a Map here.
  #compactIds: Int32Array;
  #byteIds: Int32Array;
  #endOfTextId: number;

  /**
   * Creates a compact tokenizer from an explicit list of kept GPT-2 tokens.
   * @param gpt2 The GPT-2 base tokenizer.
   * @param gpt2Ids `gpt2Ids[i]` is the GPT-2 token for compact id `i`. It must hold distinct
   *   GPT-2 ids, including `<|endoftext|>` and all 256 single-byte tokens.
   * @throws {TypeError} If `gpt2Ids` is not an array.
   * @throws {RangeError} If an id is invalid or repeated, or a required token is missing.
   */
  constructor(gpt2: Gpt2Tokenizer, gpt2Ids: readonly number[]) {
    if (!Array.isArray(gpt2Ids)) {
      throw new TypeError(`Invalid gpt2Ids "${String(gpt2Ids)}": expected an array of token ids`);
    }
    this.#gpt2 = gpt2;
    this.#gpt2Ids = [...gpt2Ids];
    this.#compactIds = new Int32Array(gpt2.vocabSize).fill(-1);
    gpt2Ids.forEach((gpt2Id, id) => {
      checkTokenId(gpt2Id, gpt2.vocabSize);
      if (this.#compactIds[gpt2Id] >= 0) {
        throw new RangeError(
          `Duplicate GPT-2 token id "${gpt2Id}": it is kept as compact ids ${
            this.#compactIds[gpt2Id]
          } and ${id}`,
        );
      }
      this.#compactIds[gpt2Id] = id;
    });
    this.#byteIds = new Int32Array(256);
    for (let byte = 0; byte < 256; byte++) {
      const id = this.#compactIds[gpt2.byteTokenId(byte)];
      if (id < 0) {
        throw new RangeError(
          `Missing single-byte token for byte "${byte}": every byte must be kept`,
        );
      }
      this.#byteIds[byte] = id;
    }
    this.#endOfTextId = this.#compactIds[gpt2.endOfTextId];
    if (this.#endOfTextId < 0) {
      throw new RangeError(
        `Missing end-of-text token "${gpt2.endOfTextId}": it must be kept`,
      );
    }
  }

  /** Always `"compact"`. */
  get kind(): "compact" {
    return "compact";
  }

  /** Number of kept tokens; pad it yourself if a model wants a rounder embedding size. */
  get vocabSize(): number {
    return this.#gpt2Ids.length;
  }

  /** Id of `<|endoftext|>`: 0 for tokenizers made by {@linkcode buildCompactTokenizer}. */
  get endOfTextId(): number {
    return this.#endOfTextId;
  }

  /** The GPT-2 base tokenizer. */
  get gpt2(): Gpt2Tokenizer {
    return this.#gpt2;
  }

  /** `gpt2Ids[i]` is the GPT-2 token id behind compact id `i` (a copy). */
  get gpt2Ids(): number[] {
    return [...this.#gpt2Ids];
  }

  /**
   * Encodes text: GPT-2 tokens, remapped, with unkept tokens spelled out byte by byte.
   * @param text Any string; lone surrogates become U+FFFD, as with `TextEncoder`.
   * @returns Compact token ids.
   * @throws {TypeError} If `text` is not a string.
   */
  encode(text: string): number[] {
    checkText(text);
    const ids: number[] = [];
    for (const gpt2Id of this.#gpt2.encode(text)) {
      const id = this.#compactIds[gpt2Id];
      if (id >= 0) {
        ids.push(id);
      } else {
        for (const byte of this.#gpt2.tokenBytes(gpt2Id)) ids.push(this.#byteIds[byte]);
      }
    }
    return ids;
  }

  /**
   * Decodes compact ids to text; invalid UTF-8 (e.g. half a character) becomes U+FFFD.
   * @param ids Compact ids, each in `0 .. vocabSize - 1`.
   * @throws {RangeError} If an id is out of range or not an integer.
   */
  decode(ids: readonly number[]): string {
    return this.#gpt2.decode(this.toGpt2Ids(ids));
  }

  /**
   * Maps compact ids to the GPT-2 ids they stand for.
   * @param ids Compact ids, each in `0 .. vocabSize - 1`.
   * @returns The GPT-2 ids.
   * @throws {RangeError} If an id is out of range or not an integer.
   */
  toGpt2Ids(ids: readonly number[]): number[] {
    return ids.map((id) => {
      checkTokenId(id, this.vocabSize);
      return this.#gpt2Ids[id];
    });
  }

  /**
   * The JSON form: the kept GPT-2 ids in compact id order.
   * @returns `{ kind: "compact", version: 1, base: "gpt2", gpt2Ids }`.
   */
  toJSON(): CompactTokenizerJSON {
    return { kind: "compact", version: 1, base: "gpt2", gpt2Ids: [...this.#gpt2Ids] };
  }
}

/** Options for {@linkcode buildCompactTokenizer}. */
export interface CompactTokenizerOptions {
  /** Keep a GPT-2 token only if the corpus uses it at least this often (default 1). */
  readonly minCount?: number;
  /**
   * Keep at most this many tokens in all, the 257 fixed ones included (default: no limit).
   * The least frequent corpus tokens are dropped first.
   */
  readonly maxVocabSize?: number;
}

/** `<|endoftext|>` plus the 256 single-byte tokens. */
const FIXED_TOKENS = 257;

function checkOption(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`Invalid ${name} "${value}": expected an integer of at least ${min}`);
  }
}

/**
 * Builds a compact tokenizer that keeps the GPT-2 tokens a corpus uses (see the module doc for
 * the id layout). Encoding the corpus with GPT-2 dominates the cost.
 * @param gpt2 The GPT-2 base tokenizer.
 * @param options Frequency threshold and size cap.
 * @throws {RangeError} If `minCount` is not an integer ≥ 1 or `maxVocabSize` not one ≥ 257.
 * @example
 * ```ts
 * import { loadGpt2Tokenizer } from "./gpt2.ts";
 * import { buildCompactTokenizer } from "./compact.ts";
 * const gpt2 = await loadGpt2Tokenizer();
 * const compact = buildCompactTokenizer(gpt2, ["Paris is in France.", "Rome is in Italy."], {
 *   minCount: 2,
 * });
 * console.log(compact.decode(compact.encode(" is in"))); // " is in"
 * ```
 */
export function buildCompactTokenizer(
  gpt2: Gpt2Tokenizer,
  texts: Iterable<string>,
  options: CompactTokenizerOptions = {},
): CompactTokenizer {
  const { minCount = 1, maxVocabSize = Infinity } = options;
  checkOption("minCount", minCount, 1);
  if (maxVocabSize !== Infinity) checkOption("maxVocabSize", maxVocabSize, FIXED_TOKENS);

  const fixed = [gpt2.endOfTextId];
  for (let byte = 0; byte < 256; byte++) fixed.push(gpt2.byteTokenId(byte));
  const counts = new Uint32Array(gpt2.vocabSize);
  for (const text of texts) {
    for (const id of gpt2.encode(text)) counts[id]++;
  }
  for (const id of fixed) counts[id] = 0;

  const used: number[] = [];
  counts.forEach((count, id) => {
    if (count >= minCount) used.push(id);
  });
  used.sort((a, b) => counts[b] - counts[a] || a - b);
  const room = maxVocabSize - FIXED_TOKENS;
  return new CompactTokenizer(gpt2, [
    ...fixed,
    ...(used.length > room ? used.slice(0, room) : used),
  ]);
}
