/**
 * The tokenizer of a Hugging Face GPT-2 directory: a compact tokenizer this engine saved in
 * `config.json` (it has no HF form), else `vocab.json` (token string → id) and `merges.txt`
 * (BPE rules, best first), else GPT-2's own vocabulary when the model's vocabulary is GPT-2's
 * size.
 * @module
 */

import { writeFileAtomic } from "../../io/atomic.ts";
import { isNotFound, platform } from "../../platform/mod.ts";
import { Gpt2Tokenizer, loadGpt2Tokenizer } from "./gpt2.ts";
import { tokenizerFromJSON } from "./json.ts";
import type { Tokenizer } from "./tokenizer.ts";
import { type Gpt2Vocabulary, parseMerges } from "./vocabulary.ts";

/** The tokenizer files of an HF GPT-2 directory. */
const VOCAB = "vocab.json";
const MERGES = "merges.txt";
const GPT2_VOCAB_SIZE = 50257;

/**
 * Reads `vocab.json` and `merges.txt` of a directory.
 * @param dir The directory.
 * @returns The vocabulary, or null when neither file is there.
 * @throws {Error} When only one of the two is there, or either is malformed (naming the file).
 * @example
 * ```ts ignore
 * import { readHfVocabulary } from "./hf_tokenizer.ts";
 * const vocabulary = await readHfVocabulary("checkpoints/gpt2");
 * console.log(vocabulary === null ? "none" : Object.keys(vocabulary.encoder).length);
 * ```
 */
export async function readHfVocabulary(dir: string): Promise<Gpt2Vocabulary | null> {
  const [vocab, merges] = await Promise.all([
    readOptional(`${dir}/${VOCAB}`),
    readOptional(`${dir}/${MERGES}`),
  ]);
  if (vocab === null && merges === null) return null;
  if (vocab === null || merges === null) {
    throw new Error(
      `${dir}: ${vocab === null ? VOCAB : MERGES} is missing (${
        vocab === null ? MERGES : VOCAB
      } is there; a GPT-2 tokenizer needs both)`,
    );
  }
  let encoder: unknown;
  try {
    encoder = JSON.parse(vocab);
  } catch (e) {
    throw new TypeError(`${dir}/${VOCAB}: invalid JSON (${(e as Error).message})`);
  }
  if (encoder === null || typeof encoder !== "object" || Array.isArray(encoder)) {
    throw new TypeError(`${dir}/${VOCAB}: expected an object of token → id`);
  }
  try {
    return { encoder: encoder as Record<string, number>, merges: parseMerges(merges) };
  } catch (e) {
    throw new TypeError(`${dir}/${MERGES}: ${(e as Error).message}`);
  }
}

/**
 * Writes `vocab.json` and `merges.txt` (each atomically), as transformers reads them.
 * @param dir The directory (it must exist).
 * @param vocabulary Token ids and merge rules.
 * @returns A promise that settles once both files are in place.
 * @example
 * ```ts ignore
 * import { loadGpt2Tokenizer } from "./gpt2.ts";
 * import { writeHfVocabulary } from "./hf_tokenizer.ts";
 * await writeHfVocabulary("out", (await loadGpt2Tokenizer()).vocabulary);
 * ```
 */
export async function writeHfVocabulary(dir: string, vocabulary: Gpt2Vocabulary): Promise<void> {
  await writeFileAtomic(`${dir}/${VOCAB}`, JSON.stringify(vocabulary.encoder));
  const rules = vocabulary.merges.map(([a, b]) => `${a} ${b}\n`).join("");
  await writeFileAtomic(`${dir}/${MERGES}`, `#version: 0.2\n${rules}`);
}

/**
 * The tokenizer of an HF GPT-2 directory: `saved` when it is a compact tokenizer this engine
 * stored in `config.json` (it has no HF files; stale ones beside it are not read); else its
 * `vocab.json` + `merges.txt`; else GPT-2's own when the model has GPT-2's 50,257 token ids.
 * @param dir The directory.
 * @param vocabSize The model's vocabulary size (the tokenizer may not produce larger ids).
 * @param saved The saved tokenizer JSON, if any.
 * @returns The tokenizer.
 * @throws {Error} When no tokenizer can be found, or it does not fit the model.
 * @example
 * ```ts ignore
 * import { loadHfTokenizer } from "./hf_tokenizer.ts";
 * const tokenizer = await loadHfTokenizer("checkpoints/gpt2", 50257);
 * console.log(tokenizer.encode("hello world")); // [31373, 995]
 * ```
 */
export async function loadHfTokenizer(
  dir: string,
  vocabSize: number,
  saved?: unknown,
): Promise<Tokenizer> {
  let tokenizer: Tokenizer;
  const compact = (saved as { kind?: unknown } | undefined)?.kind === "compact";
  const vocabulary = compact ? null : await readHfVocabulary(dir);
  if (compact) {
    tokenizer = await tokenizerFromJSON(saved);
  } else if (vocabulary !== null) {
    try {
      tokenizer = new Gpt2Tokenizer(vocabulary);
    } catch (e) {
      throw new RangeError(`${dir}/${VOCAB}: ${(e as Error).message}`);
    }
  } else if (vocabSize === GPT2_VOCAB_SIZE) {
    tokenizer = await loadGpt2Tokenizer();
  } else {
    throw new Error(
      `${dir}: no tokenizer (${VOCAB} and ${MERGES} are missing, and the model's ${vocabSize} ` +
        `token ids are not GPT-2's ${GPT2_VOCAB_SIZE})`,
    );
  }
  if (tokenizer.vocabSize > vocabSize) {
    throw new RangeError(
      `${dir}: the tokenizer has ${tokenizer.vocabSize} tokens, more than the model's ` +
        `${vocabSize}`,
    );
  }
  return tokenizer;
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await platform().readTextFile(path);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}
