/**
 * Format-detecting entry point: reads any supported edit-data file (JSON array or JSON Lines;
 * flattened CounterFact or ROME-format zsRE) into {@link EditRecord}s.
 * @module
 */

import { COUNTERFACT_FIELDS, counterFactRecord } from "./counterfact.ts";
import type { EditRecord } from "./edit_record.ts";
import { recordError } from "./errors.ts";
import { requireObject } from "./fields.ts";
import { parseJsonRecords } from "./json_records.ts";
import { sourceName as nameOfPath } from "./source.ts";
import { ZSRE_FIELDS, type ZsreOptions, zsreRecord } from "./zsre.ts";
import { platform } from "../../engine/platform/mod.ts";

/**
 * A supported record layout.
 * @example
 * ```ts
 * import { detectFormat, type EditDataFormat } from "./edit_records.ts";
 * const format: EditDataFormat | undefined = detectFormat({ prompt: "A is", target_new: "b" });
 * console.log(format); // "counterfact"
 * ```
 */
export type EditDataFormat = "counterfact" | "zsre";

/**
 * Guesses a record's layout from its fields: `prompt` + `target_new` means flattened
 * CounterFact (or our own dumps), `src` + `answers` means ROME-format zsRE.
 * @param raw A parsed record.
 * @returns The format, or `undefined` when neither matches.
 * @example
 * ```ts
 * import { detectFormat } from "./edit_records.ts";
 * console.log(detectFormat({ src: "Who?", answers: ["Me"] })); // "zsre"
 * ```
 */
export function detectFormat(raw: unknown): EditDataFormat | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const has = (field: string): boolean => Object.hasOwn(raw, field);
  if (has("prompt") && has("target_new")) return "counterfact";
  if (has("src") && has("answers")) return "zsre";
  return undefined;
}

/**
 * Parses edit data of either format; the first record decides the format and every record is
 * then validated against it, so a stray record of another layout is reported, not guessed.
 * @param text File contents (JSON array or JSON Lines).
 * @param sourceName File path or name, for error messages.
 * @param options zsRE empty-`alt` handling.
 * @returns The records in file order (empty for an empty file).
 * @throws {TypeError} On invalid JSON, an unknown layout, or a malformed record; messages look
 *   like `counterfact-train.json: record 17: field "target_new" must be a non-empty string, got 3`.
 * @example
 * ```ts
 * import { parseEditRecords } from "./edit_records.ts";
 * const text = '{"subject":"A","src":"Who is A?","rephrase":"A is who?","alt":"y",' +
 *   '"answers":["x"],"loc":"nq question: q","loc_ans":"z"}';
 * console.log(parseEditRecords(text, "inline.jsonl")[0].ground_truth); // "x"
 * ```
 */
export function parseEditRecords(
  text: string,
  sourceName: string,
  options: ZsreOptions = {},
): EditRecord[] {
  const raws = parseJsonRecords(text, sourceName);
  if (raws.length === 0) return [];
  const format = detectFormat(raws[0]);
  if (format === undefined) {
    requireObject(raws[0], { source: sourceName, index: 0 });
    throw recordError(
      sourceName,
      0,
      `unknown record format; expected CounterFact fields ${
        COUNTERFACT_FIELDS.map((f) => JSON.stringify(f)).join(", ")
      } or zsRE fields ${ZSRE_FIELDS.map((f) => JSON.stringify(f)).join(", ")}`,
    );
  }
  if (format === "counterfact") {
    return raws.map((raw, i) => counterFactRecord(raw, sourceName, i));
  }
  const records: EditRecord[] = [];
  raws.forEach((raw, i) => {
    const record = zsreRecord(raw, sourceName, i, options);
    if (record !== undefined) records.push(record);
  });
  return records;
}

/**
 * Reads an edit-data file of either format (see `parseEditRecords`).
 * @param path File path or file URL.
 * @param options zsRE empty-`alt` handling.
 * @returns The records in file order.
 * @throws {TypeError} On invalid JSON, an unknown layout or a malformed record.
 * @example
 * ```ts ignore
 * import { loadEditRecords } from "./edit_records.ts";
 * const records = await loadEditRecords("../shared/data-raw/zsre/zsre_mend_train-1k.json");
 * console.log(records.length); // 1000
 * ```
 */
export async function loadEditRecords(
  path: string | URL,
  options: ZsreOptions = {},
): Promise<EditRecord[]> {
  return parseEditRecords(await platform().readTextFile(path), nameOfPath(path), options);
}
