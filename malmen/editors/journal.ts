/**
 * Journal entries: one edit's shifts (one ΔW per layer) and metadata in a safetensors file, so an
 * edit can be reverted exactly (drop the shifts) or re-applied later; and applying, reverting and
 * folding shifts. An entry records the identity of the LM it was computed on and is refused for
 * another LM (unless forced); shifts with NaN or ±Inf are never written nor read. The
 * append-only log of a run folder's entries is `journal_log.ts`.
 * @module
 */
import { upload } from "../../engine/alloc.ts";
import { noGrad } from "../../engine/autograd.ts";
import type { AtomicWriteOptions } from "../../engine/io/atomic.ts";
import { add } from "../../engine/ops/elementwise.ts";
import { copyInto } from "../../engine/ops/copy.ts";
import { readSafetensors, type SafeTensor, writeSafetensors } from "../../engine/io/safetensors.ts";
import { assertFinite } from "../../engine/nn/finite.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { clearShifts, editedLayer, setShift } from "../algorithm/shifts.ts";
import { checkMadeFor, type ProvenanceOptions, setIdentity } from "../lm/identity.ts";
import { defaultEditorConfig, type Editor } from "./editor.ts";

/** Metadata of a journal entry. */
export interface JournalMeta {
  /** Editor that produced it. */
  editor: string;
  /** Number of facts edited. */
  m: number;
  /** ISO time of creation. */
  created: string;
  /** Identity of the LM the shifts were computed on (`lm` key; empty when unknown). */
  lm?: string;
  /** Free-form extra fields. */
  [key: string]: string | number | undefined;
}

/** Options for reading journal entries (`Journal.readShifts`, `readJournalEntry`). */
export interface JournalReadOptions extends ProvenanceOptions {
  /** Read shifts holding NaN or ±Inf too (default false: refused). */
  allowNonFinite?: boolean;
}

const SHIFT_NAME = /^h\.(\d+)\.mlp\.c_proj\.shift$/;

/**
 * Writes shifts as a journal entry (atomic). Non-finite shifts are refused before anything is
 * written.
 * @param path Destination `.safetensors` file.
 * @param shifts Layer → ΔW.
 * @param meta Metadata.
 * @param options `createNew` to never replace an existing file.
 * @throws {NonFiniteError} When a shift holds NaN or ±Inf.
 */
export async function writeJournalEntry(
  path: string,
  shifts: ReadonlyMap<number, Tensor>,
  meta: JournalMeta,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const entries = [...shifts];
  const values = await Promise.all(entries.map(([, t]) => t.toArray()));
  assertFinite(
    entries.map(([layer], i) => [`the shift of layer ${layer}`, values[i]] as const),
    `Refusing to write the journal entry "${path}"`,
  );
  const tensors = new Map<string, SafeTensor>();
  entries.forEach(([layer, t], i) => {
    tensors.set(`h.${layer}.mlp.c_proj.shift`, {
      dtype: "F32",
      shape: [...t.shape],
      data: Float32Array.from(values[i]),
    });
  });
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (v !== undefined) metadata[k] = String(v);
  await writeSafetensors(path, tensors, metadata, options);
}

/**
 * Reads a journal entry onto a model's backend.
 * @param path The entry.
 * @param model The model it applies to (its backend and shapes; the LM it was made for, unless
 *   `options.force`).
 * @param options `force` to apply it to another LM, `allowNonFinite` to read NaN/Inf shifts.
 * @returns Layer → ΔW and the metadata.
 * @throws {ProvenanceError} When the entry was computed on another LM.
 */
export async function readJournalEntry(
  path: string,
  model: GPT,
  options: JournalReadOptions = {},
): Promise<{ shifts: Map<number, Tensor>; metadata: Record<string, string> }> {
  const { tensors, metadata } = await readSafetensors(path);
  checkMadeFor(`The journal entry "${path}"`, metadata.lm, model, options);
  const layers = new Map<number, SafeTensor>();
  for (const [name, t] of tensors) {
    const m = SHIFT_NAME.exec(name);
    if (!m) throw new TypeError(`${path}: tensor "${name}" is not a layer shift`);
    const layer = Number(m[1]);
    if (layer >= model.config.nLayer) {
      throw new RangeError(
        `${path}: tensor "${name}" targets layer ${layer}; the model has ${model.config.nLayer}`,
      );
    }
    const want = [model.config.dInner, model.config.dModel];
    if (t.shape.length !== 2 || t.shape[0] !== want[0] || t.shape[1] !== want[1]) {
      throw new RangeError(
        `${path}: tensor "${name}" has shape [${t.shape}]; the model's layer ${layer} needs [${want}]`,
      );
    }
    layers.set(layer, t);
  }
  if (!options.allowNonFinite) {
    assertFinite(
      [...layers].map(([layer, t]) => [`the shift of layer ${layer}`, t.data] as const),
      `"${path}" holds non-finite shifts`,
    );
  }
  const shifts = new Map<number, Tensor>();
  for (const [layer, t] of layers) {
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
 * An editor that replays given shifts, whatever the requests (`deno task edit --apply`).
 * @param name Its name (the editor that computed the shifts).
 * @param shifts Layer → ΔW (handed over by the one `computeShifts` call).
 */
export function replayEditor(name: string, model: GPT, shifts: Map<number, Tensor>): Editor {
  return {
    name,
    config: defaultEditorConfig(model.config.nLayer),
    computeShifts: () => Promise.resolve(shifts),
  };
}

/**
 * An editor that replays a journal entry file: its shifts, whatever the requests. Named after the
 * editor that wrote the entry.
 * @param path The entry.
 * @param model The model it applies to.
 * @param options `force`, `allowNonFinite` (see {@linkcode readJournalEntry}).
 * @returns The editor (its one `computeShifts` hands over the entry's shifts).
 */
export async function journalEditor(
  path: string,
  model: GPT,
  options: JournalReadOptions = {},
): Promise<Editor> {
  const { shifts, metadata } = await readJournalEntry(path, model, options);
  return replayEditor(metadata.editor ?? "journal", model, shifts);
}

/**
 * Folds shifts into the stored weights, W ← W + ΔW, and removes them from the layers: the model
 * then carries the edit as plain weights (e.g. to save it as a checkpoint) and can no longer
 * revert it exactly. Its weights change, so its identity is forgotten.
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
  setIdentity(model, null);
}
