/**
 * Restoring a tokenizer from the JSON saved next to a model checkpoint.
 * @module
 */

import { CompactTokenizer } from "./compact.ts";
import { type Gpt2Tokenizer, loadGpt2Tokenizer } from "./gpt2.ts";
import type { Tokenizer } from "./tokenizer.ts";

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Restores a tokenizer saved with `toJSON()` (or `JSON.stringify`). Both kinds need the GPT-2
 * vocabulary; it is loaded with `loadGpt2Tokenizer()` unless given.
 * @param json The parsed JSON; it is validated, so it may come straight from `JSON.parse`.
 * @param gpt2 The GPT-2 base tokenizer, to avoid loading it again.
 * @returns The tokenizer: a `Gpt2Tokenizer` or a `CompactTokenizer`, per `json.kind`.
 * @throws {TypeError} If `json` is not a saved tokenizer of a known kind and version.
 * @throws {RangeError} If its vocabulary size or token ids do not fit the GPT-2 vocabulary.
 * @example
 * ```ts
 * import { buildCompactTokenizer, loadGpt2Tokenizer, tokenizerFromJSON } from "./mod.ts";
 * const gpt2 = await loadGpt2Tokenizer();
 * const saved = JSON.stringify(buildCompactTokenizer(gpt2, ["some corpus"]));
 * const restored = await tokenizerFromJSON(JSON.parse(saved), gpt2);
 * console.log(restored.decode(restored.encode("some text"))); // "some text"
 * ```
 */
export async function tokenizerFromJSON(json: unknown, gpt2?: Gpt2Tokenizer): Promise<Tokenizer> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError(`Invalid tokenizer JSON "${describe(json)}": expected an object`);
  }
  const { kind, version } = json as Record<string, unknown>;
  if (kind !== "gpt2" && kind !== "compact") {
    throw new TypeError(`Unknown tokenizer kind "${String(kind)}": expected "gpt2" or "compact"`);
  }
  if (version !== 1) {
    throw new TypeError(`Unsupported ${kind} tokenizer version "${String(version)}": expected 1`);
  }
  if (kind === "gpt2") {
    const { vocabSize } = json as Record<string, unknown>;
    const base = gpt2 ?? await loadGpt2Tokenizer();
    if (vocabSize !== base.vocabSize) {
      throw new RangeError(
        `Saved GPT-2 vocabulary size "${
          String(vocabSize)
        }" does not match the loaded vocabulary's ${base.vocabSize} tokens`,
      );
    }
    return base;
  }
  const { base, gpt2Ids } = json as Record<string, unknown>;
  if (base !== "gpt2") {
    throw new TypeError(`Unknown base tokenizer "${String(base)}": expected "gpt2"`);
  }
  if (!Array.isArray(gpt2Ids)) {
    throw new TypeError(
      `Invalid gpt2Ids "${describe(gpt2Ids)}": expected an array of GPT-2 token ids`,
    );
  }
  return new CompactTokenizer(gpt2 ?? await loadGpt2Tokenizer(), gpt2Ids);
}
