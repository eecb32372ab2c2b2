/**
 * Loading a trained language model from its run directory (config, tokenizer, latest
 * checkpoint).
 * @module
 */
import type { Backend } from "../../engine/backend.ts";
import { GPT } from "../../engine/models/gpt/model.ts";
import { type GPTConfig, gptConfig } from "../../engine/models/gpt/config.ts";
import { loadModule } from "../../engine/nn/checkpoint.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import { tokenizerFromJSON } from "../../engine/models/tokenizer/json.ts";
import { latestCheckpoint, runPath } from "./run_dir.ts";
import { isNotFound, platform } from "../../engine/platform/mod.ts";

/** A loaded LM run. */
export interface LoadedLm {
  /** The model (frozen). */
  model: GPT;
  /** Its tokenizer. */
  tokenizer: Tokenizer;
  /** Step of the checkpoint. */
  step: number;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await platform().readTextFile(path);
  } catch (e) {
    if (isNotFound(e)) {
      throw new Error(`"${path}" not found: train a model first (deno task train)`);
    }
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new TypeError(`"${path}" is not valid JSON`);
  }
}

/**
 * Loads the latest checkpoint of an LM run.
 * @param dir The run directory written by `trainLm`.
 * @param backend Where to put the model.
 * @returns Model, tokenizer and step.
 */
export async function loadLmRun(dir: string, backend: Backend): Promise<LoadedLm> {
  const latest = await latestCheckpoint(dir);
  if (latest === null) {
    throw new Error(`"${dir}" has no checkpoint (latest.json missing): train a model first`);
  }
  const config = gptConfig((await readJson(runPath(latest.folder, "config.json"))) as GPTConfig);
  const tokenizer = await tokenizerFromJSON(
    await readJson(runPath(latest.folder, "tokenizer.json")),
  );
  const model = new GPT(config, { backend, initialize: false });
  await loadModule(model, runPath(latest.folder, "model.safetensors"));
  model.setTrainable(false);
  return { model, tokenizer, step: latest.step };
}
