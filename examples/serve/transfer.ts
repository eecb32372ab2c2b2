/**
 * An edit made in the tab travels to the server as one safetensors body: a tensor `layer.<i>`
 * per edited layer and the scores as JSON in the metadata. The server checks every name and
 * shape against its model before the entry joins the journal.
 * @module
 */
import { upload } from "../../engine/alloc.ts";
import { decodeSafetensors } from "../../engine/io/safetensors/decode.ts";
import { encodeSafetensors } from "../../engine/io/safetensors/encode.ts";
import type { SafeTensor } from "../../engine/io/safetensors.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { EditResult } from "./protocol.ts";
import type { Shifts } from "./workbench.ts";

/**
 * Encodes an edit for `POST /api/journal`.
 * @returns The request body.
 */
export async function encodeEdit(shifts: Shifts, result: EditResult): Promise<Uint8Array> {
  const tensors = new Map<string, SafeTensor>();
  for (const [layer, t] of shifts) {
    tensors.set(`layer.${layer}`, {
      dtype: "F32",
      shape: [...t.shape],
      data: Float32Array.from(await t.toArray()),
    });
  }
  return encodeSafetensors(tensors, { result: JSON.stringify(result) });
}

/**
 * Decodes and checks an edit sent by a tab, onto the model's backend.
 * @returns The shifts (the caller owns them) and the scores.
 * @throws {TypeError} For a body that is not such an edit; {RangeError} for a layer or shape the
 *   model does not have.
 */
export function decodeEdit(bytes: Uint8Array, model: GPT): { shifts: Shifts; result: EditResult } {
  const source = "the tab's edit";
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  let result: EditResult;
  try {
    result = JSON.parse(metadata.result ?? "");
  } catch {
    throw new TypeError(`${source}: metadata "result" must be the edit's scores as JSON`);
  }
  if (typeof result?.editor !== "string" || !Array.isArray(result.facts) || !result.summary) {
    throw new TypeError(`${source}: metadata "result" lacks editor, summary or facts`);
  }
  const { nLayer, dInner, dModel } = model.config;
  const checked: [number, SafeTensor][] = [];
  for (const [name, t] of tensors) {
    const m = /^layer\.(\d+)$/.exec(name);
    if (!m || Number(m[1]) >= nLayer) {
      throw new RangeError(
        `${source}: tensor "${name}" is not a layer of this ${nLayer}-layer model`,
      );
    }
    if (t.shape.length !== 2 || t.shape[0] !== dInner || t.shape[1] !== dModel) {
      throw new RangeError(
        `${source}: tensor "${name}" has shape [${t.shape}], the layer needs [${dInner},${dModel}]`,
      );
    }
    checked.push([Number(m[1]), t]);
  }
  if (checked.length === 0) throw new TypeError(`${source}: no layer shifts`);
  const shifts: Shifts = new Map(
    checked.map(([layer, t]) => [layer, upload(t.data, t.shape, "float32", model.backend)]),
  );
  return { shifts, result };
}
