/**
 * Safetensors header parsing and validation.
 *
 * Layout: an 8-byte little-endian u64 header length `N`, `N` bytes of UTF-8 JSON, then the data
 * buffer. The JSON maps tensor names to `{dtype, shape, data_offsets: [begin, end]}` with offsets
 * relative to the start of the data buffer, plus an optional `"__metadata__"` string→string map.
 * @module
 */

import { isSafeDType, SAFE_DTYPE_SIZES, type SafeDType } from "./dtype.ts";
import { formatError, quote } from "./errors.ts";

/** Largest accepted JSON header, in bytes; matches the reference implementation's limit. */
export const MAX_HEADER_LENGTH: number = 100_000_000;

/** Where one tensor lives in a safetensors file, as declared by the header. */
export interface SafeTensorInfo {
  /** Element type stored in the file. */
  dtype: SafeDType;
  /** Dimensions; `[]` is a scalar. */
  shape: number[];
  /** `[begin, end)` byte range relative to the start of the data buffer. */
  dataOffsets: [number, number];
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  /** Length `N` of the JSON header in bytes, padding included. */
  headerLength: number;
  /** Absolute file offset of the data buffer: `8 + N`. */
  dataStart: number;
  /** Tensors ordered by data offset (ties, i.e. empty tensors, by name). */
  tensors: Map<string, SafeTensorInfo>;
  /** The `"__metadata__"` map, or `{}` when absent or `null`. */
  metadata: Record<string, string>;
}

/** Describes a JSON value for error messages without dumping large objects. */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `string ${quote(value)}`;
  return `${typeof value} ${String(value)}`;
}

/**
 * Reads the header length `N` from the 8-byte little-endian prefix and checks it against the limit
 * and the file size.
 *
 * @param prefix At least the first 8 bytes of the file.
 * @param fileSize Total file size in bytes.
 * @param source Name used in error messages, typically the file path.
 * @returns `N`, the JSON header length.
 * @throws {RangeError} When the file is shorter than 8 bytes, `N` exceeds
 *   {@linkcode MAX_HEADER_LENGTH}, or `8 + N` runs past the end of the file.
 * @example
 * ```ts
 * const prefix = new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
 * readHeaderLength(prefix, prefix.length, "tiny.safetensors"); // 8
 * ```
 */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize >= 8 && prefix.length < 8) {
    throw new RangeError(
      formatError(source, undefined, `need the first 8 bytes but got ${prefix.length}`),
    );
  }
  if (fileSize < 8) {
    throw new RangeError(
      formatError(
        source,
        undefined,
        `file is ${fileSize} bytes, too short for the 8-byte header length`,
      ),
    );
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const length = high * 2 ** 32 + low;
  if (length > MAX_HEADER_LENGTH) {
    const exact = (BigInt(high) << 32n) | BigInt(low);
    throw new RangeError(
      formatError(
        source,
        undefined,
        `header length ${exact} exceeds the ${MAX_HEADER_LENGTH}-byte limit`,
      ),
    );
  }
  if (8 + length > fileSize) {
    throw new RangeError(
      formatError(
        source,
        undefined,
        `header length ${length} runs past the end of the file: only ${
          fileSize - 8
        } bytes follow the 8-byte length`,
      ),
    );
  }
  return length;
}

/**
 * Finds the first duplicated object key in already-valid JSON.
 *
 * `JSON.parse` silently keeps the last duplicate, which would let a corrupt header shadow a tensor,
 * so the text is scanned once for keys.
 *
 * @returns The path of parent keys and the duplicated key, or `undefined`.
 */
function findDuplicateKey(text: string): { path: string[]; key: string } | undefined {
  const stack: { keys: Set<string> | undefined; path: string[] }[] = [];
  let lastKey = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      let escaped = false;
      while (text.charCodeAt(j) !== 0x22) {
        if (text.charCodeAt(j) === 0x5c) {
          escaped = true;
          j += 2;
        } else {
          j++;
        }
      }
      const raw = text.slice(i, j + 1);
      i = j;
      let k = j + 1;
      while (k < text.length && isJsonSpace(text.charCodeAt(k))) k++;
      if (text.charCodeAt(k) !== 0x3a) continue; // A value string, not a key.
      const key = escaped ? JSON.parse(raw) as string : raw.slice(1, -1);
      const top = stack[stack.length - 1];
      if (top?.keys === undefined) continue;
      if (top.keys.has(key)) return { path: top.path, key };
      top.keys.add(key);
      lastKey = key;
    } else if (c === 0x7b || c === 0x5b) {
      const parent = stack[stack.length - 1];
      const path = parent === undefined ? [] : [...parent.path, lastKey];
      stack.push({ keys: c === 0x7b ? new Set() : undefined, path });
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    }
  }
  return undefined;
}

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function whereFor(path: string[]): string | undefined {
  if (path.length === 0) return undefined;
  if (path[0] === "__metadata__") return "__metadata__";
  return `tensor ${quote(path[0])}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Parses and validates a safetensors header.
 *
 * Checks, each failing with an error that names `source` and the offending tensor or field:
 * file and header length, UTF-8, JSON syntax, duplicate keys, `__metadata__` being a
 * string→string map, each tensor's `dtype` (present and known), `shape` (non-negative integers),
 * `data_offsets` (two integers, `begin <= end`, inside the data buffer), the offset span equalling
 * `product(shape) × itemsize`, and that no two non-empty tensors overlap. Gaps between tensors and
 * trailing bytes are accepted, since they leave every tensor unambiguous.
 *
 * @param bytes The file, or at least its first `8 + N` bytes.
 * @param source Name used in error messages, typically the file path.
 * @param fileSize Total file size, when `bytes` holds only a prefix; defaults to `bytes.length`.
 * @throws {RangeError} For sizes, lengths and offsets that do not fit.
 * @throws {TypeError} For malformed UTF-8, JSON, types or unknown dtypes.
 * @example
 * ```ts
 * const json = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
 * const header = new TextEncoder().encode(json.padEnd(56));
 * const file = new Uint8Array(8 + header.length + 8);
 * new DataView(file.buffer).setUint32(0, header.length, true);
 * file.set(header, 8);
 * parseSafetensorsHeader(file, "w.safetensors").tensors.get("w")?.shape; // [2]
 * ```
 */
export function parseSafetensorsHeader(
  bytes: Uint8Array,
  source = "safetensors data",
  fileSize: number = bytes.length,
): SafetensorsHeader {
  const headerLength = readHeaderLength(bytes, fileSize, source);
  const dataStart = 8 + headerLength;
  if (bytes.length < dataStart) {
    throw new RangeError(
      formatError(
        source,
        undefined,
        `need the first ${dataStart} bytes to parse the header but got ${bytes.length}`,
      ),
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, dataStart),
    );
  } catch {
    throw new TypeError(formatError(source, "header", "is not valid UTF-8"));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new TypeError(formatError(source, "header", `is not valid JSON (${detail})`));
  }
  if (!isPlainObject(json)) {
    throw new TypeError(
      formatError(source, "header", `must be a JSON object, got ${describe(json)}`),
    );
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    const where = whereFor(duplicate.path);
    const what = where === undefined ? "tensor name" : "key";
    throw new TypeError(
      formatError(source, where ?? "header", `duplicate ${what} ${quote(duplicate.key)}`),
    );
  }

  const metadata = parseMetadata(json["__metadata__"], source);
  const bufferLength = fileSize - dataStart;
  const entries: [string, SafeTensorInfo][] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") continue;
    entries.push([name, parseEntry(name, entry, bufferLength, source)]);
  }
  entries.sort(([nameA, a], [nameB, b]) =>
    a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1] ||
    (nameA < nameB ? -1 : nameA > nameB ? 1 : 0)
  );
  checkOverlaps(entries, source);
  return { headerLength, dataStart, tensors: new Map(entries), metadata };
}

function parseMetadata(value: unknown, source: string): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (value === undefined || value === null) return metadata;
  if (!isPlainObject(value)) {
    throw new TypeError(
      formatError(source, "__metadata__", `must be an object of strings, got ${describe(value)}`),
    );
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string") {
      throw new TypeError(
        formatError(
          source,
          "__metadata__",
          `key ${quote(key)} must map to a string, got ${describe(item)}`,
        ),
      );
    }
    metadata[key] = item;
  }
  return metadata;
}

function parseEntry(
  name: string,
  entry: unknown,
  bufferLength: number,
  source: string,
): SafeTensorInfo {
  const where = `tensor ${quote(name)}`;
  if (!isPlainObject(entry)) {
    throw new TypeError(formatError(source, where, `must be an object, got ${describe(entry)}`));
  }
  const dtype = entry["dtype"];
  if (dtype === undefined) throw new TypeError(formatError(source, where, `missing "dtype"`));
  if (!isSafeDType(dtype)) {
    const detail = typeof dtype === "string" ? quote(dtype) : describe(dtype);
    throw new TypeError(formatError(source, where, `unknown dtype ${detail}`));
  }

  const shape = entry["shape"];
  if (shape === undefined) throw new TypeError(formatError(source, where, `missing "shape"`));
  if (!Array.isArray(shape)) {
    throw new TypeError(
      formatError(source, where, `"shape" must be an array, got ${describe(shape)}`),
    );
  }
  let elements = 1;
  for (const [axis, size] of shape.entries()) {
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw new TypeError(
        formatError(
          source,
          where,
          `"shape" entry ${axis} must be a non-negative integer, got ${describe(size)}`,
        ),
      );
    }
    elements *= size;
  }

  const offsets = entry["data_offsets"];
  if (offsets === undefined) {
    throw new TypeError(formatError(source, where, `missing "data_offsets"`));
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= 0)
  ) {
    throw new TypeError(
      formatError(
        source,
        where,
        `"data_offsets" must be two non-negative integers, got ${JSON.stringify(offsets)}`,
      ),
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) {
    throw new RangeError(
      formatError(source, where, `data_offsets [${begin},${end}] end before they begin`),
    );
  }
  const itemSize = SAFE_DTYPE_SIZES[dtype];
  const needed = elements * itemSize;
  if (end - begin !== needed) {
    const size = Number.isSafeInteger(needed) ? String(needed) : "more than 2^53";
    throw new RangeError(
      formatError(
        source,
        where,
        `data_offsets span ${end - begin} bytes but shape ${
          JSON.stringify(shape)
        } of ${dtype} needs ${size}`,
      ),
    );
  }
  if (end > bufferLength) {
    throw new RangeError(
      formatError(
        source,
        where,
        `data_offsets [${begin},${end}] run past the ${bufferLength}-byte data buffer`,
      ),
    );
  }
  return { dtype, shape: shape as number[], dataOffsets: [begin, end] };
}

function checkOverlaps(sorted: [string, SafeTensorInfo][], source: string): void {
  let previous: [string, SafeTensorInfo] | undefined;
  for (const current of sorted) {
    const [begin, end] = current[1].dataOffsets;
    if (begin === end) continue; // Empty tensors occupy no bytes and cannot overlap.
    if (previous !== undefined && begin < previous[1].dataOffsets[1]) {
      const [prevBegin, prevEnd] = previous[1].dataOffsets;
      throw new RangeError(
        formatError(
          source,
          `tensor ${quote(current[0])}`,
          `data_offsets [${begin},${end}] overlap tensor ${
            quote(previous[0])
          } at [${prevBegin},${prevEnd}]`,
        ),
      );
    }
    previous = current;
  }
}
