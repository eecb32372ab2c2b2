/**
 * Model checkpoints in the Hugging Face GPT-2 layout: `model.safetensors` (F32, names without
 * the `transformer.` prefix) and `config.json` (HF fields plus this engine's `extra` object),
 * so {@linkcode loadGpt2Dir} and `transformers` read them too. The caller adds `tokenizer.json`.
 *
 * Each file is written atomically, weights first and `config.json` last. Both carry the same
 * random `checkpoint_id`, so a save interrupted between the two files is detected on load
 * instead of pairing new weights with an old configuration.
 * @module
 */
import type { Backend } from "../../backend.ts";
import { writeJsonAtomic } from "../../io/atomic.ts";
import { saveModule } from "../../nn/checkpoint.ts";
import { configToHf } from "./config.ts";
import { loadGpt2Dir } from "./hf_gpt2.ts";
import type { GPT } from "./model.ts";
import { platform } from "../../platform/mod.ts";

/** What {@linkcode loadCheckpoint} returns. */
export interface LoadedCheckpoint {
  /** The model. */
  model: GPT;
  /** The `extra` object given to {@linkcode saveCheckpoint} (`{}` for plain HF directories). */
  extra: Record<string, unknown>;
}

const ID_KEY = "checkpoint_id";

/**
 * Writes `model.safetensors` and `config.json` into `dir` (created if missing).
 * @param dir Checkpoint directory.
 * @param model The model (its shifts are not saved).
 * @param extra JSON-serialisable facts to keep with the model (training step, data seed, …).
 * @returns A promise that settles once both files are in place.
 */
export async function saveCheckpoint(
  dir: string,
  model: GPT,
  extra: Record<string, unknown> = {},
): Promise<void> {
  // Serialise first: a value without a JSON form fails before any file is touched.
  const json = JSON.parse(JSON.stringify({ ...configToHf(model.config), extra }));
  const id = crypto.randomUUID();
  await platform().mkdir(dir);
  await saveModule(model, `${dir}/model.safetensors`, { format: "pt", [ID_KEY]: id });
  await writeJsonAtomic(`${dir}/config.json`, { ...json, [ID_KEY]: id });
}

/**
 * Reads a directory written by {@linkcode saveCheckpoint} (or any HF GPT-2 directory).
 * @param dir Checkpoint directory.
 * @param options Backend of the parameters.
 * @returns The model and the `extra` object.
 */
export async function loadCheckpoint(
  dir: string,
  options: { backend?: Backend; allowNonFinite?: boolean } = {},
): Promise<LoadedCheckpoint> {
  const { model, json, metadata } = await loadGpt2Dir(dir, options);
  const a = json[ID_KEY];
  const b = metadata[ID_KEY];
  if ((a !== undefined || b !== undefined) && a !== b) {
    model.dispose();
    throw new Error(
      `${dir}: config.json (${ID_KEY} ${JSON.stringify(a)}) and model.safetensors ` +
        `(${JSON.stringify(b)}) come from different saves`,
    );
  }
  const extra = json.extra;
  return {
    model,
    extra: extra !== null && typeof extra === "object" && !Array.isArray(extra)
      ? extra as Record<string, unknown>
      : {},
  };
}
