/**
 * Where an edit lands: each block's `mlp.c_proj`, an editable linear that computes with W + ΔW
 * and can be captured. These helpers address it by block index with one clear error.
 * @module
 */
import type { EditableLinear } from "../../engine/models/gpt/editable.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { Tensor } from "../../engine/tensor.ts";

/**
 * The edited projection of block `layer`.
 * @param layer Block index.
 * @returns Its `mlp.c_proj`.
 */
export function editedLayer(model: GPT, layer: number): EditableLinear {
  const n = model.config.nLayer;
  if (!Number.isInteger(layer) || layer < 0 || layer >= n) {
    throw new RangeError(`Layer ${layer} does not exist: the model has ${n}`);
  }
  return model.h.at(layer).mlp.c_proj;
}

/**
 * Makes block `layer` compute with `W + shift` (null restores W exactly); see
 * `EditableLinear.setShift`.
 * @param layer Block index.
 * @param shift `[dInner, d]`, or null.
 */
export function setShift(model: GPT, layer: number, shift: Tensor | null): void {
  const target = editedLayer(model, layer);
  try {
    target.setShift(shift);
  } catch (e) {
    (e as Error).message = `Layer ${layer}: ${(e as Error).message}`;
    throw e;
  }
}

/**
 * The shift of block `layer`, or null.
 * @param layer Block index.
 */
export function getShift(model: GPT, layer: number): Tensor | null {
  return editedLayer(model, layer).shift;
}

/**
 * Removes every block's shift.
 */
export function clearShifts(model: GPT): void {
  for (const block of model.h) block.mlp.c_proj.setShift(null);
}
