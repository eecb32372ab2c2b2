/**
 * Flattened CounterFact (EasyEdit/MEND `counterfact-{train,val,edit}.json`): its fields are
 * already the {@link EditRecord} fields, so mapping is validation only.
 * @module
 */

import type { EditRecord } from "./edit_record.ts";
import { optionalText, requireId, requireObject, requireText } from "./fields.ts";
import { parseJsonRecords } from "./json_records.ts";
import { sourceName } from "./source.ts";
import { platform } from "../../engine/platform/mod.ts";

/**
 * The fields a flattened CounterFact record must have, in file order.
 * @example
 * ```ts
 * import { COUNTERFACT_FIELDS } from "./counterfact.ts";
 * console.log(COUNTERFACT_FIELDS.includes("target_new")); // true
 * ```
 */
export const COUNTERFACT_FIELDS: readonly string[] = [
  "case_id",
  "prompt",
  "target_new",
  "subject",
  "ground_truth",
  "rephrase_prompt",
  "locality_prompt",
  "locality_ground_truth",
];

/**
 * Validates one raw flattened CounterFact record (an optional `relation` string is kept, so
 * our own dumps of synthetic records read back unchanged).
 * @param raw The parsed JSON value.
 * @param source File path or name, for error messages.
 * @param index Zero-based record index, for error messages.
 * @returns The record as an {@link EditRecord}; extra fields are dropped.
 * @throws {TypeError} Naming source, index and field, if a field is missing or malformed.
 * @example
 * ```ts
 * import { counterFactRecord } from "./counterfact.ts";
 * const r = counterFactRecord({
 *   case_id: 0, prompt: "A is", subject: "A", ground_truth: "x", target_new: "y",
 *   rephrase_prompt: "A was", locality_prompt: "B is", locality_ground_truth: "z",
 * }, "inline", 0);
 * console.log(r.target_new); // "y"
 * ```
 */
export function counterFactRecord(raw: unknown, source: string, index: number): EditRecord {
  const origin = { source, index };
  const obj = requireObject(raw, origin);
  const record: EditRecord = {
    case_id: requireId(obj, "case_id", origin),
    prompt: requireText(obj, "prompt", origin),
    subject: requireText(obj, "subject", origin),
    ground_truth: requireText(obj, "ground_truth", origin),
    target_new: requireText(obj, "target_new", origin),
    rephrase_prompt: requireText(obj, "rephrase_prompt", origin),
    locality_prompt: requireText(obj, "locality_prompt", origin),
    locality_ground_truth: requireText(obj, "locality_ground_truth", origin),
  };
  const relation = optionalText(obj, "relation", origin);
  if (relation !== undefined) record.relation = relation;
  return record;
}

/**
 * Parses flattened CounterFact text (JSON array or JSON Lines).
 * @param text File contents.
 * @param source File path or name, for error messages.
 * @returns One {@link EditRecord} per record, in file order.
 * @throws {TypeError} On invalid JSON or a malformed record.
 * @example
 * ```ts
 * import { parseCounterFact } from "./counterfact.ts";
 * console.log(parseCounterFact("[]", "empty.json").length); // 0
 * ```
 */
export function parseCounterFact(text: string, source: string): EditRecord[] {
  return parseJsonRecords(text, source).map((raw, i) => counterFactRecord(raw, source, i));
}

/**
 * Reads a flattened CounterFact file such as `counterfact-train.json`.
 * @param path File path or file URL.
 * @returns One {@link EditRecord} per record, in file order.
 * @throws {TypeError} On invalid JSON or a malformed record (naming file, index and field).
 * @example
 * ```ts ignore
 * import { loadCounterFact } from "./counterfact.ts";
 * const train = await loadCounterFact("../shared/data-raw/counterfact/counterfact-train.json");
 * console.log(train.length); // 10000
 * ```
 */
export async function loadCounterFact(path: string | URL): Promise<EditRecord[]> {
  return parseCounterFact(await platform().readTextFile(path), sourceName(path));
}
