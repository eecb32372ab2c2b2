/**
 * The edit journal: each applied edit is an entry (one shift per layer plus metadata) stored as
 * a safetensors file, so an edit can be reverted exactly (drop the shifts) or re-applied later.
 * @module
 */
import { upload } from "../../engine/alloc.ts";
import { noGrad } from "../../engine/autograd.ts";
import { add } from "../../engine/ops/elementwise.ts";
import { copyInto } from "../../engine/ops/copy.ts";
import { readSafetensors, type SafeTensor, writeSafetensors } from "../../engine/io/safetensors.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { clearShifts, editedLayer, setShift } from "../algorithm/shifts.ts";
import { defaultEditorConfig, type Editor } from "./editor.ts";

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
 * @param shifts Layer → ΔW.
 */
export function applyShifts(model: GPT, shifts: ReadonlyMap<number, Tensor>): void {
  for (const [layer, s] of shifts) setShift(model, layer, s);
}

/**
 * Reverts every shift exactly.
 */
export function revertShifts(model: GPT): void {
  clearShifts(model);
}

/**
 * An editor that replays a journal entry: its shifts, whatever the requests (`deno task edit
 * --apply`). Named after the editor that wrote the entry.
 * @param path The entry.
 * @param model The model it applies to.
 * @returns The editor (its one `computeShifts` hands over the entry's shifts).
 */
export async function journalEditor(path: string, model: GPT): Promise<Editor> {
  const { shifts, metadata } = await readJournalEntry(path, model);
  return {
    name: metadata.editor ?? "journal",
    config: defaultEditorConfig(model.config.nLayer),
    computeShifts: () => Promise.resolve(shifts),
  };
}

/**
 * Folds shifts into the stored weights, W ← W + ΔW, and removes them from the layers: the model
 * then carries the edit as plain weights (e.g. to save it as a checkpoint) and can no longer
 * revert it exactly.
 * @param shifts Layer → ΔW (not disposed).
 */
export function foldShifts(model: GPT, shifts: ReadonlyMap<number, Tensor>): void {
  for (const [layer, shift] of shifts) {
    const w = editedLayer(model, layer).weight;
    const edited = noGrad(() => add(w, shift));
    setShift(model, layer, null);
    copyInto(w, edited);
    edited.dispose();
  }
}
