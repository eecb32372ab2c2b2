/**
 * Where a language model comes from: a training run of this project (`runs/lm`) or a Hugging
 * Face GPT-2 directory (`hf:DIR`: config.json, model.safetensors, and vocab.json / merges.txt
 * when present). Every command that takes `--lm` reads it through {@linkcode loadLm}, and an
 * edited model can be written back as an HF directory with {@linkcode saveHfLm}.
 * @module
 */
import type { Backend } from "../../engine/backend.ts";
import { loadCheckpoint, saveCheckpoint } from "../../engine/models/gpt/checkpoint.ts";
import type { CheckpointLoadOptions } from "../../engine/nn/checkpoint.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { Gpt2Tokenizer } from "../../engine/models/tokenizer/gpt2.ts";
import { loadHfTokenizer, writeHfVocabulary } from "../../engine/models/tokenizer/hf_tokenizer.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import { identify } from "./identity.ts";
import { type LoadedLm, loadLmRun } from "./load.ts";
import { platform } from "../../engine/platform/mod.ts";

/** The prefix that marks an HF GPT-2 directory on the command line. */
export const HF_PREFIX = "hf:";

/** A language model's origin: a run directory, or an HF GPT-2 checkpoint directory. */
export type LmSource =
  | { readonly kind: "run"; readonly dir: string }
  | { readonly kind: "hf"; readonly dir: string };

/**
 * Reads an `--lm` value: `hf:DIR` is an HF GPT-2 directory, anything else a run directory.
 * @param value The flag's value.
 * @returns The source.
 * @throws {TypeError} On an empty value or an empty `hf:` directory.
 */
export function parseLmSource(value: string): LmSource {
  if (value.startsWith(HF_PREFIX)) {
    const dir = value.slice(HF_PREFIX.length);
    if (dir === "") throw new TypeError(`--lm "${value}" names no directory after "hf:"`);
    return { kind: "hf", dir };
  }
  if (value === "") throw new TypeError("--lm needs a run directory or hf:DIR");
  return { kind: "run", dir: value };
}

/**
 * How a source is written on the command line.
 * @returns `DIR` or `hf:DIR`.
 */
export function lmSourceLabel(source: LmSource): string {
  return source.kind === "hf" ? `${HF_PREFIX}${source.dir}` : source.dir;
}

/**
 * Loads a language model, frozen, with its tokenizer and its identity (a hash of configuration,
 * tokenizer and weights, also remembered for `identityOf(model)`): the same LM gives the same
 * identity whether it is read from a run or from an HF directory it was written to.
 * @param source A run directory (its latest checkpoint) or an HF GPT-2 directory.
 * @param backend Where the parameters go.
 * @param options `allowNonFinite` to load a diverged checkpoint or HF directory.
 * @returns Model, tokenizer, checkpoint step (0 for an HF directory) and identity.
 */
export async function loadLm(
  source: LmSource,
  backend: Backend,
  options: Pick<CheckpointLoadOptions, "allowNonFinite"> = {},
): Promise<LoadedLm> {
  if (source.kind === "run") return await loadLmRun(source.dir, backend, options);
  const dir = source.dir.replace(/\/+$/, "");
  const { model, extra } = await loadCheckpoint(dir, {
    backend,
    allowNonFinite: options.allowNonFinite,
  });
  try {
    const tokenizer = await loadHfTokenizer(dir, model.config.vocabSize, extra.tokenizer);
    model.setTrainable(false);
    // From the loaded weights (one readback), as a run's identity is from its file.
    const identity = await identify(model, tokenizer);
    return { model, tokenizer, step: 0, identity };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Writes a model as an HF GPT-2 directory that {@linkcode loadLm} (and transformers) reads back
 * bit-exactly: model.safetensors (F32) and config.json, the tokenizer as vocab.json and
 * merges.txt when it is a GPT-2 tokenizer, and in config.json's `extra.tokenizer` always (a
 * compact tokenizer has no HF form). The tokenizer files are written before config.json, which
 * comes last, so an interrupted write is never read as complete.
 * @param dir The directory (created if missing).
 * @param model The model (fold any shifts into it first: shifts are not saved).
 * @param tokenizer Its tokenizer.
 * @param extra More facts for `extra` (e.g. which editor changed the weights, `edited_from`: the
 * identity of the LM it was edited from).
 */
export async function saveHfLm(
  dir: string,
  model: GPT,
  tokenizer: Tokenizer,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await platform().mkdir(dir);
  if (tokenizer instanceof Gpt2Tokenizer) await writeHfVocabulary(dir, tokenizer.vocabulary);
  await saveCheckpoint(dir, model, { ...extra, tokenizer: tokenizer.toJSON() });
}
