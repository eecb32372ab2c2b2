/**
 * Checkpoints as safetensors files (atomic writes): module parameters, and AdamW state for
 * `--resume`. Values are stored as F32; the CPU backend's float64 values are rounded on save.
 * A checkpoint holding NaN or ±Inf is never written, and is refused on load unless asked for
 * (to inspect a diverged run).
 * @module
 */
import { readSafetensors, type SafeTensor, writeSafetensors } from "../io/safetensors.ts";
import type { AdamW } from "./adamw.ts";
import { assertFinite } from "./finite.ts";
import type { HostTensor } from "./host_io.ts";
import type { LoadOptions, LoadReport, Module } from "./module.ts";

/** Options of {@linkcode loadModule}. */
export interface CheckpointLoadOptions extends LoadOptions {
  /**
   * Load NaN and ±Inf values too (default false: such a file is refused with an error naming
   * the tensor), e.g. to inspect a run that diverged.
   */
  allowNonFinite?: boolean;
}

/** Metadata key naming what an optimizer file holds. */
const FORMAT_KEY = "format";
const ADAMW_FORMAT = "adamw-v1";

function f32(data: ArrayLike<number>): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/**
 * Writes a module's parameters (tied tensors once) to a safetensors file; all values are read
 * back in one batched transfer.
 * @param path Destination (written atomically; parent directories are created).
 * @param metadata Optional string metadata.
 * @returns A promise that settles once the file is in place.
 */
export async function saveModule(
  module: Module,
  path: string,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const entries = [...module.stateDict()];
  const values = await Promise.all(entries.map(([, t]) => t.toArray()));
  const tensors = new Map<string, SafeTensor>();
  entries.forEach(([name, t], i) => {
    tensors.set(name, { dtype: "F32", shape: [...t.shape], data: f32(values[i]) });
  });
  refuseNonFinite(tensors, `Refusing to write "${path}"`);
  await writeSafetensors(path, tensors, metadata);
}

/**
 * Throws a `NonFiniteError` naming the first tensors that hold NaN or ±Inf.
 * @param tensors Name → host values.
 * @param context What was being done (the error's first words).
 */
export function refuseNonFinite(
  tensors: ReadonlyMap<string, HostTensor>,
  context: string,
): void {
  assertFinite([...tensors].map(([name, t]) => [`tensor "${name}"`, t.data] as const), context);
}

/**
 * Loads parameters saved by {@linkcode saveModule} (or any safetensors file with matching names
 * and shapes) into a module, in place. A file with NaN or ±Inf values is refused (the module is
 * left untouched) unless `options.allowNonFinite` is set.
 * @param path Source file.
 * @returns The file's metadata, the missing/unexpected names, and the decoded tensors (e.g. to
 *   hash what was loaded without reading it back).
 */
export async function loadModule(
  module: Module,
  path: string,
  options: CheckpointLoadOptions = {},
): Promise<
  LoadReport & { metadata: Record<string, string>; tensors: Map<string, SafeTensor> }
> {
  const { tensors, metadata } = await readSafetensors(path);
  if (!options.allowNonFinite) {
    refuseNonFinite(
      tensors,
      `"${path}" holds non-finite values (a diverged or damaged checkpoint; load it anyway for inspection with allowNonFinite, --allow-non-finite in the CLIs)`,
    );
  }
  const report = module.loadStateDict(tensors, options);
  return { ...report, metadata, tensors };
}

/**
 * Writes AdamW's moments and step count to a safetensors file.
 * @param path Destination (written atomically).
 * @param metadata Extra string metadata (stored beside the step and hyper-parameters).
 * @returns A promise that settles once the file is in place.
 */
export async function saveOptimizer(
  optimizer: AdamW,
  path: string,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const state = await optimizer.exportState();
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of state.tensors) {
    tensors.set(name, { dtype: "F32", shape: [...t.shape], data: f32(t.data) });
  }
  refuseNonFinite(tensors, `Refusing to write "${path}"`);
  await writeSafetensors(path, tensors, {
    ...metadata,
    [FORMAT_KEY]: ADAMW_FORMAT,
    step: String(state.step),
    lr: String(optimizer.lr),
    betas: `${optimizer.beta1},${optimizer.beta2}`,
    eps: String(optimizer.eps),
    weight_decay: String(optimizer.weightDecay),
  });
}

/**
 * Restores AdamW state saved by {@linkcode saveOptimizer}: moments and step count (the
 * hyper-parameters stay those of `optimizer`).
 * @param optimizer The optimizer (same parameter names and shapes as when saved).
 * @param path Source file.
 * @returns The file's metadata.
 */
export async function loadOptimizer(
  optimizer: AdamW,
  path: string,
): Promise<Record<string, string>> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata[FORMAT_KEY] !== ADAMW_FORMAT) {
    throw new TypeError(
      `"${path}" is not an AdamW state file (format "${metadata[FORMAT_KEY] ?? ""}")`,
    );
  }
  const step = Number(metadata.step);
  const hosts = new Map<string, HostTensor>(tensors);
  optimizer.importState({ step, tensors: hosts });
  return metadata;
}
