/**
 * The edit journal: each applied edit is an entry (one shift per layer plus metadata) stored as
 * a safetensors file, so an edit can be reverted exactly (drop the shifts) or re-applied later.
 * @module
 */
import { upload } from "../../engine/alloc.ts";
import { readSafetensors, type SafeTensor, writeSafetensors } from "../../engine/io/safetensors.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { clearShifts, setShift } from "../algorithm/shifts.ts";

/** Metadata of a journal entry. */
export interface JournalMeta {
  /** Editor that produced it. */
  editor: string;
  /** Number of facts edited. */
  m: number;
  /** ISO time of creation. */
  created: string;
  /** Free-form extra fields. */
  [key: string]: string | number;
}

/**
 * Writes shifts as a journal entry (atomic).
 * @param path Destination `.safetensors` file.
 * @param shifts Layer → ΔW.
 * @param meta Metadata.
 */
export async function writeJournalEntry(
  path: string,
  shifts: ReadonlyMap<number, Tensor>,
  meta: JournalMeta,
): Promise<void> {
  const entries = [...shifts];
  const values = await Promise.all(entries.map(([, t]) => t.toArray()));
  const tensors = new Map<string, SafeTensor>();
  entries.forEach(([layer, t], i) => {
    tensors.set(`h.${layer}.mlp.c_proj.shift`, {
      dtype: "F32",
      shape: [...t.shape],
      data: Float32Array.from(values[i]),
    });
  });
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) metadata[k] = String(v);
  await writeSafetensors(path, tensors, metadata);
}

/**
 * Reads a journal entry onto a model's backend.
 * @param path The entry.
 * @param model The model it applies to (its backend and shapes).
 * @returns Layer → ΔW and the metadata.
 */
export async function readJournalEntry(
  path: string,
  model: GPT,
): Promise<{ shifts: Map<number, Tensor>; metadata: Record<string, string> }> {
  const { tensors, metadata } = await readSafetensors(path);
  const shifts = new Map<number, Tensor>();
  for (const [name, t] of tensors) {
    const m = /^h\.(\d+)\.mlp\.c_proj\.shift$/.exec(name);
    if (!m) throw new TypeError(`${path}: tensor "${name}" is not a layer shift`);
    const layer = Number(m[1]);
    if (layer >= model.config.nLayer) {
      throw new RangeError(
        `${path}: tensor "${name}" targets layer ${layer}; the model has ${model.config.nLayer}`,
      );
    }
    shifts.set(layer, upload(t.data, t.shape, "float32", model.backend));
  }
  return { shifts, metadata };
}

/**
 * Applies shifts (W + ΔW for each layer); the stored weights are untouched.
 * @param model The model.
 * @param shifts Layer → ΔW.
 */
export function applyShifts(model: GPT, shifts: ReadonlyMap<number, Tensor>): void {
  for (const [layer, s] of shifts) setShift(model, layer, s);
}

/**
 * Reverts every shift exactly.
 * @param model The model.
 */
export function revertShifts(model: GPT): void {
  clearShifts(model);
}
