/**
 * Field readers that validate one field of a raw JSON record and report bad ones by source,
 * record index and field name (internal).
 * @module
 */

import { describeValue, recordError } from "./errors.ts";

/** Where a raw record came from, for error messages. */
export interface RecordOrigin {
  /** File path or name. */
  source: string;
  /** Zero-based record index in the file. */
  index: number;
}

/**
 * Checks that a parsed JSON value is a plain object.
 * @param value The parsed record.
 * @param origin Where it came from.
 * @returns The value typed as a string-keyed object.
 * @throws {TypeError} If it is an array, null or a primitive.
 * @example
 * ```ts
 * import { requireObject } from "./fields.ts";
 * requireObject({ a: 1 }, { source: "x.json", index: 0 });
 * ```
 */
export function requireObject(value: unknown, origin: RecordOrigin): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw recordError(
      origin.source,
      origin.index,
      `must be a JSON object, got ${describeValue(value)}`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * Reads a field that must be a string with some non-space character.
 * @param raw The record.
 * @param origin Where the record came from.
 * @throws {TypeError} If missing, not a string, or blank.
 * @example
 * ```ts
 * import { requireText } from "./fields.ts";
 * requireText({ src: "Who?" }, "src", { source: "x.json", index: 0 }); // "Who?"
 * ```
 */
export function requireText(
  raw: Record<string, unknown>,
  field: string,
  origin: RecordOrigin,
): string {
  const value = raw[field];
  if (typeof value !== "string" || value.trim() === "") {
    throw fieldError(origin, field, "a non-empty string", value);
  }
  return value;
}

/**
 * Reads a field that must be a string, possibly empty.
 * @param raw The record.
 * @param origin Where the record came from.
 * @throws {TypeError} If missing or not a string.
 * @example
 * ```ts
 * import { requireString } from "./fields.ts";
 * requireString({ alt: "" }, "alt", { source: "x.json", index: 0 }); // ""
 * ```
 */
export function requireString(
  raw: Record<string, unknown>,
  field: string,
  origin: RecordOrigin,
): string {
  const value = raw[field];
  if (typeof value !== "string") throw fieldError(origin, field, "a string", value);
  return value;
}

/**
 * Reads an optional field that, when present, must be a non-empty string.
 * @param raw The record.
 * @param origin Where the record came from.
 * @returns The string, or `undefined` when the field is absent.
 * @throws {TypeError} If present but not a non-empty string.
 * @example
 * ```ts
 * import { optionalText } from "./fields.ts";
 * optionalText({}, "relation", { source: "x.json", index: 0 }); // undefined
 * ```
 */
export function optionalText(
  raw: Record<string, unknown>,
  field: string,
  origin: RecordOrigin,
): string | undefined {
  return raw[field] === undefined ? undefined : requireText(raw, field, origin);
}

/**
 * Reads a field that must be a non-negative safe integer (ids).
 * @param raw The record.
 * @param origin Where the record came from.
 * @throws {TypeError} If missing, not a number, fractional or negative.
 * @example
 * ```ts
 * import { requireId } from "./fields.ts";
 * requireId({ case_id: 3 }, "case_id", { source: "x.json", index: 0 }); // 3
 * ```
 */
export function requireId(
  raw: Record<string, unknown>,
  field: string,
  origin: RecordOrigin,
): number {
  const value = raw[field];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw fieldError(origin, field, "a non-negative integer", value);
  }
  return value;
}

/**
 * Reads a field that must be a non-empty array of non-empty strings.
 * @param raw The record.
 * @param origin Where the record came from.
 * @throws {TypeError} If missing, empty, or holding a non-string or blank item.
 * @example
 * ```ts
 * import { requireTextList } from "./fields.ts";
 * requireTextList({ answers: ["Paris"] }, "answers", { source: "x.json", index: 0 });
 * ```
 */
export function requireTextList(
  raw: Record<string, unknown>,
  field: string,
  origin: RecordOrigin,
): string[] {
  const value = raw[field];
  const ok = Array.isArray(value) && value.length > 0 &&
    value.every((item) => typeof item === "string" && item.trim() !== "");
  if (!ok) throw fieldError(origin, field, "a non-empty array of non-empty strings", value);
  return value as string[];
}

function fieldError(
  origin: RecordOrigin,
  field: string,
  expected: string,
  value: unknown,
): TypeError {
  return recordError(
    origin.source,
    origin.index,
    `field ${JSON.stringify(field)} must be ${expected}, got ${describeValue(value)}`,
  );
}
