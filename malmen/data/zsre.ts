/**
 * ROME/MEMIT/EasyEdit-format zsRE (`zsre_mend_*.json`: subject, src, pred, rephrase, alt,
 * answers[], loc, loc_ans, cond) mapped to {@link EditRecord}.
 * @module
 */

import type { EditRecord } from "./edit_record.ts";
import { recordError } from "./errors.ts";
import { requireObject, requireString, requireText, requireTextList } from "./fields.ts";
import { parseJsonRecords } from "./json_records.ts";
import { sourceName } from "./source.ts";
import { platform } from "../../engine/platform/mod.ts";

/**
 * The fields a ROME-format zsRE record must have (`pred` and `cond` are not read).
 * @example
 * ```ts
 * import { ZSRE_FIELDS } from "./zsre.ts";
 * console.log(ZSRE_FIELDS.includes("loc_ans")); // true
 * ```
 */
export const ZSRE_FIELDS: readonly string[] = [
  "subject",
  "src",
  "rephrase",
  "alt",
  "answers",
  "loc",
  "loc_ans",
];

/**
 * What to do with a record whose `alt` is empty (the real 1k train file has 2, both gender
 * questions): such a record has no counterfactual target, though it still serves MALMEN's
 * zsRE protocol, which edits towards the true answer (`ground_truth`).
 * - `"keep"`: keep it with `target_new` = "" (default, so counts and case ids match the file);
 * - `"skip"`: drop it;
 * - `"error"`: throw, naming the record.
 * @example
 * ```ts
 * import { type EmptyAltPolicy, parseZsre } from "./zsre.ts";
 * const policy: EmptyAltPolicy = "skip";
 * console.log(parseZsre("[]", "z.json", { emptyAlt: policy }).length); // 0
 * ```
 */
export type EmptyAltPolicy = NonNullable<ZsreOptions["emptyAlt"]>;

/**
 * Options for the zsRE loaders.
 * @example
 * ```ts
 * import type { ZsreOptions } from "./zsre.ts";
 * const options: ZsreOptions = { emptyAlt: "error" };
 * console.log(options.emptyAlt);
 * ```
 */
export interface ZsreOptions {
  /** Handling of records with an empty `alt`; default `"keep"`. */
  emptyAlt?: "keep" | "skip" | "error";
}

/**
 * Maps one raw ROME-format zsRE record:
 * prompt = `src`, ground_truth = `answers[0]`, target_new = `alt`, rephrase_prompt = `rephrase`,
 * locality_prompt = `loc` + "?" (the "nq question: " prefix is kept as-is and "?" appended
 * unconditionally, exactly as MALMEN's zsRE loader does), locality_ground_truth = `loc_ans`,
 * case_id = `index`.
 * @param raw The parsed JSON value.
 * @param source File path or name, for error messages.
 * @param index Zero-based record index; also becomes `case_id`.
 * @param options Empty-`alt` handling.
 * @returns The record, or `undefined` when it is skipped for an empty `alt`.
 * @throws {TypeError} Naming source, index and field, if a field is missing or malformed.
 * @example
 * ```ts
 * import { zsreRecord } from "./zsre.ts";
 * const r = zsreRecord({
 *   subject: "UniFirst", src: "What is the product made by UniFirst?", pred: "uniform",
 *   rephrase: "What will be the product of UniFirst?", alt: "unmanned aircraft",
 *   answers: ["uniform"], loc: "nq question: who wrote hamlet", loc_ans: "Shakespeare",
 * }, "inline", 0);
 * console.log(r?.locality_prompt); // "nq question: who wrote hamlet?"
 * ```
 */
export function zsreRecord(
  raw: unknown,
  source: string,
  index: number,
  options: ZsreOptions = {},
): EditRecord | undefined {
  const origin = { source, index };
  const obj = requireObject(raw, origin);
  const subject = requireText(obj, "subject", origin);
  const prompt = requireText(obj, "src", origin);
  const rephrase = requireText(obj, "rephrase", origin);
  const alt = requireString(obj, "alt", origin);
  const answers = requireTextList(obj, "answers", origin);
  const loc = requireText(obj, "loc", origin);
  const locAns = requireText(obj, "loc_ans", origin);
  if (alt.trim() === "") {
    const policy = options.emptyAlt ?? "keep";
    if (policy === "skip") return undefined;
    if (policy === "error") {
      throw recordError(source, index, 'field "alt" must be a non-empty string, got ""');
    }
  }
  return {
    case_id: index,
    prompt,
    subject,
    ground_truth: answers[0],
    target_new: alt,
    rephrase_prompt: rephrase,
    locality_prompt: `${loc}?`,
    locality_ground_truth: locAns,
  };
}

/**
 * Parses ROME-format zsRE text (JSON array or JSON Lines).
 * @param text File contents.
 * @param source File path or name, for error messages.
 * @param options Empty-`alt` handling.
 * @returns The mapped records, in file order.
 * @throws {TypeError} On invalid JSON or a malformed record.
 * @example
 * ```ts
 * import { parseZsre } from "./zsre.ts";
 * console.log(parseZsre("[]", "empty.json").length); // 0
 * ```
 */
export function parseZsre(text: string, source: string, options: ZsreOptions = {}): EditRecord[] {
  const records: EditRecord[] = [];
  parseJsonRecords(text, source).forEach((raw, i) => {
    const record = zsreRecord(raw, source, i, options);
    if (record !== undefined) records.push(record);
  });
  return records;
}

/**
 * Reads a ROME-format zsRE file such as `zsre_mend_train-1k.json`.
 * @param path File path or file URL.
 * @param options Empty-`alt` handling (default keeps them with `target_new` = "").
 * @returns The mapped records, in file order.
 * @throws {TypeError} On invalid JSON or a malformed record (naming file, index and field).
 * @example
 * ```ts ignore
 * import { loadZsre } from "./zsre.ts";
 * const zsre = await loadZsre("../shared/data-raw/zsre/zsre_mend_train-1k.json");
 * console.log(zsre.length); // 1000
 * ```
 */
export async function loadZsre(
  path: string | URL,
  options: ZsreOptions = {},
): Promise<EditRecord[]> {
  return parseZsre(await platform().readTextFile(path), sourceName(path), options);
}
