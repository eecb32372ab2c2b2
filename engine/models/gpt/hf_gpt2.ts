/**
 * Loading Hugging Face GPT-2 checkpoints (`config.json` + `model.safetensors`, F32, F16 or
 * BF16) into a {@linkcode GPT}. Names may carry the `transformer.` prefix or not; `Conv1D`
 * weights are already stored `[in, out]` (no transpose); the `attn.bias` / `attn.masked_bias`
 * buffers are ignored. `tie_word_embeddings` is honoured as transformers honours it: when true
 * (the default) the output layer is `wte.weight` and a stored `lm_head.weight` is ignored; when
 * false `lm_head.weight` is required and used. Configurations this engine does not compute
 * (another activation, scaled attention variants) are refused by `configFromHf`.
 * @module
 */
import type { Backend } from "../../backend.ts";
import { fmtShape } from "../../shape.ts";
import { readSafetensors, readSafetensorsHeader } from "../../io/safetensors.ts";
import type { HostTensor } from "../../nn/host_io.ts";
import { refuseNonFinite } from "../../nn/checkpoint.ts";
import { configFromHf, type GPTConfig, parameterShapes } from "./config.ts";
import { GPT } from "./model.ts";
import { platform } from "../../platform/mod.ts";

/** Options of {@linkcode loadHfGpt2}. */
export interface HfLoadOptions {
  /** Where the parameters go (default: the current backend). */
  backend?: Backend;
  /** Reject tensors the model has no use for (default true). */
  strict?: boolean;
  /**
   * Load NaN and ±Inf weights too (default false: the directory is refused with an error naming
   * the tensor), e.g. to inspect a diverged model.
   */
  allowNonFinite?: boolean;
}

/** A loaded checkpoint directory. */
export interface LoadedGpt2 {
  /** The model. */
  model: GPT;
  /** The parsed `config.json`. */
  json: Record<string, unknown>;
  /** The safetensors metadata. */
  metadata: Record<string, string>;
}

const PREFIX = "transformer.";
// Tensors of HF checkpoints that are not parameters of this model (lm_head.weight only when
// tied: then it is a copy of wte.weight).
const IGNORED = /^(lm_head\.weight|h\.\d+\.attn\.(bias|masked_bias))$/;

/**
 * Loads a Hugging Face GPT-2 directory.
 * @param dir Directory holding `config.json` and `model.safetensors`.
 * @param options Backend, strictness.
 * @example
 * ```ts ignore
 * const model = await loadHfGpt2("checkpoints/gpt2");
 * ```
 */
export async function loadHfGpt2(dir: string, options: HfLoadOptions = {}): Promise<GPT> {
  return (await loadGpt2Dir(dir, options)).model;
}

/**
 * {@linkcode loadHfGpt2} that also returns the raw `config.json` and the safetensors metadata
 * (what checkpoint readers need).
 * @param dir Directory holding `config.json` and `model.safetensors`.
 * @param options Backend, strictness.
 * @returns Model, config JSON and metadata.
 */
export async function loadGpt2Dir(dir: string, options: HfLoadOptions = {}): Promise<LoadedGpt2> {
  const configPath = `${dir}/config.json`;
  const weightsPath = `${dir}/model.safetensors`;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await platform().readTextFile(configPath));
  } catch (e) {
    throw new Error(`Cannot read ${configPath}: ${(e as Error).message}`, { cause: e });
  }
  const config = configFromHf(json, configPath);
  const header = await readSafetensorsHeader(weightsPath);
  const names = matchNames(config, [...header.tensors.keys()], weightsPath, options.strict ?? true);
  for (const [ours, theirs] of names) {
    const want = parameterShapes(config).get(ours)!;
    const got = header.tensors.get(theirs)!.shape;
    if (fmtShape(got) !== fmtShape(want)) {
      throw new RangeError(
        `${weightsPath}: tensor "${theirs}" has shape "${fmtShape(got)}", the model expects "${
          fmtShape(want)
        }" (weights must be stored [in, out] like HF Conv1D)`,
      );
    }
  }
  // Allocate (and check the adapter's binding limits) before reading hundreds of megabytes.
  const model = new GPT(config, { backend: options.backend, initialize: false });
  try {
    const wanted = new Set(names.values());
    const { tensors, metadata } = await readSafetensors(weightsPath, {
      filter: (name) => wanted.has(name),
    });
    const state = new Map<string, HostTensor>();
    for (const [ours, theirs] of names) state.set(ours, tensors.get(theirs)!);
    if (!options.allowNonFinite) {
      refuseNonFinite(
        state,
        `"${weightsPath}" holds non-finite values (a diverged or damaged model; load it anyway for inspection with allowNonFinite, --allow-non-finite in the CLIs)`,
      );
    }
    model.loadStateDict(state);
    return { model, json, metadata };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Pairs each parameter name of the model with the file's name for it (prefixed or not).
 * @param fileNames Tensor names in the file.
 * @param source File name for messages.
 * @param strict Reject names that are neither parameters nor known buffers.
 * @returns Model name → file name.
 */
export function matchNames(
  config: GPTConfig,
  fileNames: readonly string[],
  source: string,
  strict: boolean,
): Map<string, string> {
  const byName = new Map<string, string>();
  const unexpected: string[] = [];
  const shapes = parameterShapes(config);
  for (const name of fileNames) {
    const bare = name.startsWith(PREFIX) ? name.slice(PREFIX.length) : name;
    if (shapes.has(bare)) {
      if (byName.has(bare)) {
        throw new RangeError(`${source}: tensor "${bare}" appears with and without "${PREFIX}"`);
      }
      byName.set(bare, name);
    } else if (!IGNORED.test(bare)) unexpected.push(name);
  }
  const missing = [...shapes.keys()].filter((n) => !byName.has(n));
  if (missing.length > 0) {
    const list = missing.slice(0, 5).map((n) => `"${n}"`).join(", ");
    const more = missing.length > 5 ? ` and ${missing.length - 5} more` : "";
    const why = missing.includes("lm_head.weight")
      ? " (config.json unties the output layer: tie_word_embeddings is false)"
      : "";
    throw new RangeError(
      `${source}: missing tensor${missing.length > 1 ? "s" : ""} ${list}${more}${why}`,
    );
  }
  if (strict && unexpected.length > 0) {
    const list = unexpected.slice(0, 5).map((n) => `"${n}"`).join(", ");
    const more = unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : "";
    throw new RangeError(
      `${source}: unexpected tensor${unexpected.length > 1 ? "s" : ""} ${list}${more}`,
    );
  }
  return byName;
}
