/**
 * Splits a data file's text into raw records, accepting both layouts the editing data sets use:
 * one JSON array (CounterFact, ROME zsRE) or JSON Lines (MEND's raw zsRE, our own dumps).
 * @module
 */

/**
 * Parses a JSON array or JSON Lines text into its records, unvalidated.
 * @param text File contents; a leading byte-order mark is ignored.
 * @param source File path or name, for error messages.
 * @returns The records in file order (empty for a blank text or `[]`).
 * @throws {TypeError} If the JSON is invalid (naming the line for JSON Lines) or the text starts
 *   with neither "[" nor "{".
 * @example
 * ```ts
 * import { parseJsonRecords } from "./json_records.ts";
 * parseJsonRecords('{"a":1}\n{"a":2}\n', "x.jsonl"); // [{a: 1}, {a: 2}]
 * ```
 */
export function parseJsonRecords(text: string, source: string): unknown[] {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const head = body.trimStart();
  if (head === "") return [];
  if (head.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (cause) {
      throw new TypeError(`${source}: invalid JSON (${(cause as Error).message})`, { cause });
    }
    if (!Array.isArray(parsed)) {
      throw new TypeError(`${source}: expected a JSON array of records`);
    }
    return parsed;
  }
  if (!head.startsWith("{")) {
    throw new TypeError(`${source}: expected a JSON array or JSON Lines of objects`);
  }
  const records: unknown[] = [];
  const lines = body.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    try {
      records.push(JSON.parse(lines[i]));
    } catch (cause) {
      // Line numbers are 1-based, as editors show them.
      throw new TypeError(
        `${source}: line ${i + 1}: invalid JSON Lines record (${(cause as Error).message})`,
        { cause },
      );
    }
  }
  return records;
}
