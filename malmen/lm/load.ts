/**
 * Loading a trained language model from its run directory (config, tokenizer, latest
 * checkpoint), with its identity (a hash of config, tokenizer and weights) computed from what was
 * loaded.
 * @module
 */
import type { Backend } from "../../engine/backend.ts";
import { GPT } from "../../engine/models/gpt/model.ts";
import { type GPTConfig, gptConfig } from "../../engine/models/gpt/config.ts";
import { type CheckpointLoadOptions, loadModule } from "../../engine/nn/checkpoint.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import { tokenizerFromJSON } from "../../engine/models/tokenizer/json.ts";
import { type Hash, lmIdentity, setIdentity } from "./identity.ts";
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
  /** The model's identity (also remembered for `identityOf(model)`). */
  identity: Hash;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await platform().readTextFile(path);
  } catch (e) {
    if (isNotFound(e)) {
      throw new Error(`"${path}" not found: train a model first (deno task train)`);
    }
    throw new Error(`Cannot read "${path}": ${(e as Error).message}`, { cause: e });
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
 * @param options `allowNonFinite` to load a diverged checkpoint.
 * @returns Model, tokenizer, step and identity.
 */
export async function loadLmRun(
  dir: string,
  backend: Backend,
  options: Pick<CheckpointLoadOptions, "allowNonFinite"> = {},
): Promise<LoadedLm> {
  const latest = await latestCheckpoint(dir);
  if (latest === null) {
    throw new Error(`"${dir}" has no checkpoint (latest.json missing): train a model first`);
  }
  const config = gptConfig((await readJson(runPath(latest.folder, "config.json"))) as GPTConfig);
  const tokenizer = await tokenizerFromJSON(
    await readJson(runPath(latest.folder, "tokenizer.json")),
  );
  const model = new GPT(config, { backend, initialize: false });
  try {
    const { tensors } = await loadModule(
      model,
      runPath(latest.folder, "model.safetensors"),
      options,
    );
    model.setTrainable(false);
    const names = [...model.stateDict().keys()];
    const identity = await lmIdentity(config, tokenizer, names.map((n) => [n, tensors.get(n)!]));
    setIdentity(model, identity);
    return { model, tokenizer, step: latest.step, identity };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
