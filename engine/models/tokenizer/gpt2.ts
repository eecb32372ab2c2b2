/**
 * GPT-2's byte-level BPE tokenizer: UTF-8 bytes, mapped to printable characters, split into
 * words by a regex, then merged by BPE within each word.
 * @module
 */

import { BytePairEncoder } from "./bpe.ts";
import { BYTE_TO_CHAR, bytesToChars, charsToBytes } from "./byte_unicode.ts";
import { splitGpt2Words } from "./pretokenize.ts";
import { checkText, checkTokenId } from "./token_id.ts";
import type { Gpt2TokenizerJSON, Tokenizer } from "./tokenizer.ts";
import { type Gpt2Vocabulary, loadGpt2Vocabulary } from "./vocabulary.ts";

/** The end-of-text token string, GPT-2's only special token. */
const END_OF_TEXT = "<|endoftext|>";

/** Words cached before the cache is cleared; bounds memory on endless streams of new words. */
const CACHE_LIMIT = 1 << 17;

const utf8Encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF: the default would silently drop it from decoded text.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * GPT-2's byte-level BPE tokenizer. Get the standard one with {@linkcode loadGpt2Tokenizer}.
 *
 * @example
 * ```ts
 * import { loadGpt2Tokenizer } from "./gpt2.ts";
 * const gpt2 = await loadGpt2Tokenizer();
 * console.log(gpt2.encode("hello world")); // [31373, 995]
 * console.log(gpt2.decode([31373, 995])); // "hello world"
 * ```
 */
export class Gpt2Tokenizer implements Tokenizer {
  /** Token ids and merge rules it was built from (HF's vocab.json and merges.txt). */
  readonly vocabulary: Gpt2Vocabulary;
  #bpe: BytePairEncoder;
  #encoder: Map<string, number>;
  #tokenBytes: Uint8Array[];
  #byteIds: Int32Array;
  #endOfTextId: number;
  #cache = new Map<string, readonly number[]>();

  /**
   * Creates a tokenizer over a byte-level BPE vocabulary.
   * @param vocabulary Token ids and merge rules. Ids must be dense (`0 .. n - 1`), every single
   *   byte must be a token, and `<|endoftext|>` must be one. `toJSON()` records only the kind
   *   and size, so restoring assumes the standard GPT-2 vocabulary.
   * @throws {RangeError} If the vocabulary breaks one of these rules.
   */
  constructor(vocabulary: Gpt2Vocabulary) {
    this.vocabulary = vocabulary;
    const entries = Object.entries(vocabulary.encoder);
    const strings = new Array<string | undefined>(entries.length);
    for (const [token, id] of entries) {
      if (!Number.isInteger(id) || id < 0 || id >= entries.length || strings[id] !== undefined) {
        throw new RangeError(
          `Invalid id "${id}" for token "${token}": ids must be distinct integers in 0..${
            entries.length - 1
          }`,
        );
      }
      strings[id] = token;
    }
    this.#encoder = new Map(entries);
    this.#tokenBytes = strings.map((token) => charsToBytes(token!));
    this.#byteIds = new Int32Array(256);
    for (let byte = 0; byte < 256; byte++) {
      const id = this.#encoder.get(BYTE_TO_CHAR[byte]);
      if (id === undefined) {
        throw new RangeError(`Missing token for byte "${byte}": every byte must be a token`);
      }
      this.#byteIds[byte] = id;
    }
    const endOfTextId = this.#encoder.get(END_OF_TEXT);
    if (endOfTextId === undefined) {
      throw new RangeError(`Missing token "${END_OF_TEXT}": the vocabulary needs it`);
    }
    this.#endOfTextId = endOfTextId;
    this.#bpe = new BytePairEncoder(vocabulary.merges);
  }

  /** Always `"gpt2"`. */
  get kind(): "gpt2" {
    return "gpt2";
  }

  /** Number of tokens: 50257 for GPT-2. */
  get vocabSize(): number {
    return this.#tokenBytes.length;
  }

  /** Id of `<|endoftext|>`: 50256 for GPT-2. */
  get endOfTextId(): number {
    return this.#endOfTextId;
  }

  /**
   * Encodes text as GPT-2 token ids. `"<|endoftext|>"` in the text is encoded literally.
   * @param text Any string; lone surrogates become U+FFFD, as with `TextEncoder`.
   * @throws {TypeError} If `text` is not a string.
   */
  encode(text: string): number[] {
    checkText(text);
    const ids: number[] = [];
    for (const word of splitGpt2Words(text)) {
      for (const id of this.#encodeWord(word)) ids.push(id);
    }
    return ids;
  }

  /**
   * Decodes token ids to text; invalid UTF-8 (e.g. half a character) becomes U+FFFD.
   * @param ids Token ids, each in `0 .. vocabSize - 1`.
   * @throws {RangeError} If an id is out of range or not an integer.
   */
  decode(ids: readonly number[]): string {
    return utf8Decoder.decode(this.decodeBytes(ids));
  }

  /**
   * Decodes token ids to raw bytes, for callers that stream text and must not split
   * characters.
   * @param ids Token ids, each in `0 .. vocabSize - 1`.
   * @returns The concatenated bytes of the tokens.
   * @throws {RangeError} If an id is out of range or not an integer.
   */
  decodeBytes(ids: readonly number[]): Uint8Array {
    let length = 0;
    for (const id of ids) {
      checkTokenId(id, this.vocabSize);
      length += this.#tokenBytes[id].length;
    }
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const id of ids) {
      bytes.set(this.#tokenBytes[id], offset);
      offset += this.#tokenBytes[id].length;
    }
    return bytes;
  }

  /**
   * The bytes a token stands for.
   * @returns A fresh copy of the token's bytes.
   * @throws {RangeError} If the id is out of range or not an integer.
   */
  tokenBytes(id: number): Uint8Array {
    checkTokenId(id, this.vocabSize);
    return this.#tokenBytes[id].slice();
  }

  /**
   * The id of the token made of one byte.
   * @param byte A byte value, 0..255.
   * @returns Its token id.
   * @throws {RangeError} If `byte` is not an integer in 0..255.
   */
  byteTokenId(byte: number): number {
    if (!Number.isInteger(byte) || byte < 0 || byte > 255) {
      throw new RangeError(`Invalid byte "${byte}": expected an integer in 0..255`);
    }
    return this.#byteIds[byte];
  }

  /**
   * The JSON form; the vocabulary itself is reloaded from the npm package on restore.
   * @returns `{ kind: "gpt2", version: 1, vocabSize }`.
   */
  toJSON(): Gpt2TokenizerJSON {
    return { kind: "gpt2", version: 1, vocabSize: this.vocabSize };
  }

  #encodeWord(word: string): readonly number[] {
    const cached = this.#cache.get(word);
    if (cached !== undefined) return cached;
    const symbols = this.#bpe.split(bytesToChars(utf8Encoder.encode(word)));
    const ids = symbols.map((symbol) => {
      const id = this.#encoder.get(symbol);
      // Every merge result is a token in GPT-2's files; a custom vocabulary might break that.
      if (id === undefined) {
        throw new RangeError(`Merged symbol "${symbol}" is not in the vocabulary`);
      }
      return id;
    });
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(word, ids);
    return ids;
  }
}

let standard: Promise<Gpt2Tokenizer> | undefined;

/**
 * Loads the standard GPT-2 tokenizer. The first call reads the vocabulary files; later calls
 * share the same instance (and its word cache).
 * @example
 * ```ts
 * import { loadGpt2Tokenizer } from "./gpt2.ts";
 * const gpt2 = await loadGpt2Tokenizer();
 * console.log(gpt2.vocabSize); // 50257
 * ```
 */
export function loadGpt2Tokenizer(): Promise<Gpt2Tokenizer> {
  if (standard === undefined) {
    const loading = loadGpt2Vocabulary().then((vocabulary) => new Gpt2Tokenizer(vocabulary));
    standard = loading;
    // Forget a failed load so a later call can retry instead of replaying the error forever.
    loading.catch(() => {
      if (standard === loading) standard = undefined;
    });
  }
  return standard;
}
