/**
 * Checkpoints as safetensors files (atomic writes): module parameters, and AdamW state for
 * `--resume`. Values are stored as F32; the CPU backend's float64 values are rounded on save.
 * @module
 */
import { readSafetensors, type SafeTensor, writeSafetensors } from "../io/safetensors.ts";
import type { AdamW } from "./adamw.ts";
import type { HostTensor } from "./host_io.ts";
import type { LoadOptions, LoadReport, Module } from "./module.ts";

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
  await writeSafetensors(path, tensors, metadata);
}

/**
 * Loads parameters saved by {@linkcode saveModule} (or any safetensors file with matching names
 * and shapes) into a module, in place.
 * @param path Source file.
 * @returns The file's metadata and the missing/unexpected names.
 */
export async function loadModule(
  module: Module,
  path: string,
  options: LoadOptions = {},
): Promise<LoadReport & { metadata: Record<string, string> }> {
  const { tensors, metadata } = await readSafetensors(path);
  const report = module.loadStateDict(tensors, options);
  return { ...report, metadata };
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
