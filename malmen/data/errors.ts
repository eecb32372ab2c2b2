/**
 * Error messages for malformed data files: always `source: record N: field "x" ...`, so a bad
 * record can be found in a 10k-record file (internal).
 * @module
 */

/**
 * Shows a value in an error message: JSON, cut short so huge records don't flood the log.
 * @param value Any value read from a file (`undefined` when the field is missing).
 * @returns A short printable form.
 * @example
 * ```ts
 * import { describeValue } from "./errors.ts";
 * console.log(describeValue("")); // ""
 * ```
 */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing (field missing)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Builds the error for a bad record.
 * @param source File path or name the record came from.
 * @param index Zero-based record index in the file.
 * @param message What is wrong, starting with `field "x"` when a field is at fault.
 * @returns A TypeError with message `source: record index: message`.
 * @example
 * ```ts
 * import { recordError } from "./errors.ts";
 * const e = recordError("a.json", 17, 'field "target_new" must be a non-empty string');
 * console.log(e.message); // a.json: record 17: field "target_new" must be a non-empty string
 * ```
 */
export function recordError(source: string, index: number, message: string): TypeError {
  return new TypeError(`${source}: record ${index}: ${message}`);
}
