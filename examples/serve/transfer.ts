/**
 * An edit made in the tab travels to the server as one safetensors body: a tensor `layer.<i>`
 * per edited layer, and in the metadata the page's scores, the records edited, the report
 * `deno task edit` would write and the identity of the LM the tab computed on. The server checks
 * all of it before the entry joins the journal, as it checks its own edits: every name and shape
 * against its model, the records with the CLI's rules, the shifts finite, and the LM the one it
 * serves (an edit computed on another LM is refused).
 * @module
 */
import { upload } from "../../engine/alloc.ts";
import { decodeSafetensors } from "../../engine/io/safetensors/decode.ts";
import { encodeSafetensors } from "../../engine/io/safetensors/encode.ts";
import type { SafeTensor } from "../../engine/io/safetensors.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { assertFinite } from "../../engine/nn/finite.ts";
import { counterFactRecord } from "../../malmen/data/counterfact.ts";
import type { EditReport } from "../../malmen/eval/report.ts";
import { checkMadeFor } from "../../malmen/lm/identity.ts";
import type { EditResult } from "./protocol.ts";
import type { WorkbenchEdit } from "./workbench.ts";

/** An edit as it travels: the workbench's outcome and the LM it was computed on. */
export interface TabEdit extends WorkbenchEdit {
  /** Identity of the LM the tab computed on (`identityOf(model)`). */
  lm: string;
}

const SOURCE = "the tab's edit";

/**
 * Encodes an edit for `POST /api/journal`.
 * @returns The request body.
 */
export async function encodeEdit(edit: TabEdit): Promise<Uint8Array> {
  const tensors = new Map<string, SafeTensor>();
  for (const [layer, t] of edit.shifts) {
    tensors.set(`layer.${layer}`, {
      dtype: "F32",
      shape: [...t.shape],
      data: Float32Array.from(await t.toArray()),
    });
  }
  return encodeSafetensors(tensors, {
    result: JSON.stringify(edit.result),
    records: JSON.stringify(edit.records),
    report: JSON.stringify(edit.report),
    lm: edit.lm,
  });
}

function parsed<T>(metadata: Record<string, string>, key: string, what: string): T {
  try {
    return JSON.parse(metadata[key] ?? "");
  } catch {
    throw new TypeError(`${SOURCE}: metadata "${key}" must be ${what} as JSON`);
  }
}

/**
 * Decodes and checks an edit sent by a tab, onto the model's backend.
 * @returns The shifts (the caller owns them), the scores, the records, the report and the LM.
 * @throws {TypeError} For a body that is not such an edit or a bad record (named by index and
 *   field); {RangeError} for a layer or shape the model does not have; {NonFiniteError} for a
 *   shift holding NaN or ±Inf; {ProvenanceError} when it was computed on another LM.
 */
export function decodeEdit(bytes: Uint8Array, model: GPT): TabEdit {
  const { tensors, metadata } = decodeSafetensors(bytes, SOURCE);
  const result = parsed<EditResult>(metadata, "result", "the edit's scores");
  if (typeof result?.editor !== "string" || !Array.isArray(result.facts) || !result.summary) {
    throw new TypeError(`${SOURCE}: metadata "result" lacks editor, summary or facts`);
  }
  const rawRecords = parsed<unknown[]>(metadata, "records", "the records edited");
  if (!Array.isArray(rawRecords) || rawRecords.length !== result.m) {
    throw new TypeError(`${SOURCE}: metadata "records" must be an array of the ${result.m} facts`);
  }
  const records = rawRecords.map((r, i) => counterFactRecord(r, "records", i));
  const report = parsed<EditReport>(metadata, "report", "the edit's report");
  if (report?.editor !== result.editor || report.m !== result.m || !report.before) {
    throw new TypeError(`${SOURCE}: metadata "report" does not describe this edit`);
  }
  const lm = metadata.lm;
  if (!lm) throw new TypeError(`${SOURCE}: metadata "lm" must name the LM it was computed on`);
  checkMadeFor(`The tab's edit`, lm, model);
  const { nLayer, dInner, dModel } = model.config;
  const checked: [number, SafeTensor][] = [];
  for (const [name, t] of tensors) {
    const m = /^layer\.(\d+)$/.exec(name);
    if (!m || Number(m[1]) >= nLayer) {
      throw new RangeError(
        `${SOURCE}: tensor "${name}" is not a layer of this ${nLayer}-layer model`,
      );
    }
    if (t.shape.length !== 2 || t.shape[0] !== dInner || t.shape[1] !== dModel) {
      throw new RangeError(
        `${SOURCE}: tensor "${name}" has shape [${t.shape}], the layer needs [${dInner},${dModel}]`,
      );
    }
    checked.push([Number(m[1]), t]);
  }
  if (checked.length === 0) throw new TypeError(`${SOURCE}: no layer shifts`);
  assertFinite(
    checked.map(([layer, t]) => [`the shift of layer ${layer}`, t.data] as const),
    `Refusing ${SOURCE}`,
  );
  const shifts = new Map(
    checked.map(([layer, t]) => [layer, upload(t.data, t.shape, "float32", model.backend)]),
  );
  return { shifts, result, records, report, lm };
}
