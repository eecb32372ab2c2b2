/**
 * Encoding tensors into the safetensors format.
 * @module
 */

import {
  HOST_IS_LITTLE_ENDIAN,
  isSafeWriteDType,
  numberToBf16Bits,
  numberToF16Bits,
  SAFE_DTYPE_SIZES,
  type SafeWriteDType,
} from "./dtype.ts";
import { formatError, quote } from "./errors.ts";
import type { SafeTensor } from "./decode.ts";

/** Tensors to write: a plain object or a map from name to tensor. */
export type SafeTensorEntries =
  | Readonly<Record<string, SafeTensor>>
  | ReadonlyMap<string, SafeTensor>;

/** One tensor's place in a planned file. */
export interface PlannedTensor {
  /** Tensor name. */
  name: string;
  /** The tensor as given. */
  tensor: SafeTensor;
  /** `[begin, end)` byte range relative to the start of the data buffer. */
  dataOffsets: [number, number];
}

/** A validated file layout produced by {@linkcode planSafetensors}. */
export interface SafetensorsLayout {
  /** The 8-byte length prefix followed by the space-padded JSON header. */
  header: Uint8Array;
  /** Tensors in the order their bytes follow the header. */
  tensors: PlannedTensor[];
  /** Total file size in bytes. */
  byteLength: number;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function validateTensor(name: string, tensor: SafeTensor, source: string): SafeWriteDType {
  const where = `tensor ${quote(name)}`;
  if (name === "__metadata__") {
    throw new TypeError(formatError(source, where, "name is reserved for the metadata map"));
  }
  if (!isPlainObject(tensor)) {
    throw new TypeError(formatError(source, where, "must be an object with dtype, shape and data"));
  }
  const { dtype, shape, data } = tensor;
  if (!isSafeWriteDType(dtype)) {
    throw new TypeError(
      formatError(
        source,
        where,
        `dtype ${quote(String(dtype))} cannot be written; use "F32", "F16", "BF16", "I32" or "I64"`,
      ),
    );
  }
  if (!Array.isArray(shape)) {
    throw new TypeError(formatError(source, where, "shape must be an array"));
  }
  let elements = 1;
  for (const [axis, size] of shape.entries()) {
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new TypeError(
        formatError(
          source,
          where,
          `shape entry ${axis} must be a non-negative integer, got "${size}"`,
        ),
      );
    }
    elements *= size;
  }
  const wantsFloat = dtype === "F32" || dtype === "F16" || dtype === "BF16";
  if (wantsFloat ? !(data instanceof Float32Array) : !(data instanceof Int32Array)) {
    const expected = wantsFloat ? "Float32Array" : "Int32Array";
    const actual = (data as unknown as object)?.constructor?.name ?? String(data);
    throw new TypeError(
      formatError(source, where, `dtype ${dtype} needs ${expected} data, got ${actual}`),
    );
  }
  if (data.length !== elements) {
    throw new RangeError(
      formatError(
        source,
        where,
        `data has ${data.length} elements but shape ${JSON.stringify(shape)} needs ${elements}`,
      ),
    );
  }
  return dtype;
}

/**
 * Validates tensors and computes the file layout without copying any tensor data.
 *
 * Order is deterministic and independent of insertion order: tensors are sorted by element size,
 * largest first, then by name (UTF-16 code unit order). Sorting by size keeps every tensor aligned
 * to its element size, since the data buffer starts 8-byte aligned; this matches the reference
 * implementation. Offsets are contiguous from 0, the JSON header is padded with spaces so that the
 * data buffer starts at a multiple of 8, and metadata keys are written in sorted order.
 *
 * @param tensors Tensors to write; `dtype` must be a {@linkcode SafeWriteDType}.
 * @param metadata Optional string→string map stored as `"__metadata__"`; omitted when empty.
 * @param source Name used in error messages, typically the target path.
 * @returns The header bytes and each tensor's offsets.
 * @throws {TypeError} For a reserved name, unwritable dtype, wrong array type or non-string
 *   metadata.
 * @throws {RangeError} When a tensor's data length does not match its shape.
 * @example
 * ```ts
 * const layout = planSafetensors({ b: { dtype: "F32", shape: [3], data: new Float32Array(3) } });
 * layout.tensors[0].dataOffsets; // [0, 12]
 * layout.header.length % 8; // 0
 * ```
 */
export function planSafetensors(
  tensors: SafeTensorEntries,
  metadata?: Readonly<Record<string, string>>,
  source = "safetensors data",
): SafetensorsLayout {
  const entries: [string, SafeTensor][] = tensors instanceof Map
    ? [...tensors]
    : Object.entries(tensors as Record<string, SafeTensor>);
  const dtypes = new Map<string, SafeWriteDType>();
  for (const [name, tensor] of entries) dtypes.set(name, validateTensor(name, tensor, source));
  entries.sort(([nameA, a], [nameB, b]) =>
    SAFE_DTYPE_SIZES[b.dtype] - SAFE_DTYPE_SIZES[a.dtype] || compareNames(nameA, nameB)
  );

  // The JSON is built by hand because object key order would put integer-like names first.
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) {
      throw new TypeError(formatError(source, "__metadata__", "must be an object of strings"));
    }
    const keys = Object.keys(metadata).sort(compareNames);
    for (const key of keys) {
      if (typeof metadata[key] !== "string") {
        throw new TypeError(
          formatError(
            source,
            "__metadata__",
            `key ${quote(key)} must map to a string, got ${typeof metadata[key]}`,
          ),
        );
      }
    }
    if (keys.length > 0) {
      const body = keys.map((key) => `${quote(key)}:${quote(metadata[key])}`).join(",");
      parts.push(`"__metadata__":{${body}}`);
    }
  }
  const planned: PlannedTensor[] = [];
  let offset = 0;
  for (const [name, tensor] of entries) {
    const end = offset + tensor.data.length * SAFE_DTYPE_SIZES[tensor.dtype];
    planned.push({ name, tensor, dataOffsets: [offset, end] });
    parts.push(
      `${quote(name)}:{"dtype":"${tensor.dtype}","shape":${
        JSON.stringify(tensor.shape)
      },"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const paddedLength = Math.ceil(json.length / 8) * 8;
  const header = new Uint8Array(8 + paddedLength).fill(0x20, 8 + json.length);
  const view = new DataView(header.buffer);
  view.setUint32(0, paddedLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(paddedLength / 2 ** 32), true);
  header.set(json, 8);
  return { header, tensors: planned, byteLength: header.length + offset };
}

/** Little-endian bytes of a typed array: a view on little-endian hosts, a swapped copy otherwise. */
function littleEndianBytes(array: Float32Array | Int32Array | Uint16Array): Uint8Array {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  if (HOST_IS_LITTLE_ENDIAN) return bytes;
  const size = array.BYTES_PER_ELEMENT;
  const swapped = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) {
    for (let b = 0; b < size; b++) swapped[i + b] = bytes[i + size - 1 - b];
  }
  return swapped;
}

/**
 * Converts one tensor's values to the bytes stored in the file.
 *
 * F32 and I32 data on little-endian hosts is returned as a view, so nothing is copied.
 *
 * @param tensor A tensor validated by {@linkcode planSafetensors}.
 * @returns Little-endian bytes of `tensor.data` in `tensor.dtype`.
 * @example
 * ```ts
 * tensorToBytes({ dtype: "F16", shape: [1], data: new Float32Array([1]) }); // Uint8Array [0x00, 0x3c]
 * ```
 */
export function tensorToBytes(tensor: SafeTensor): Uint8Array {
  const { dtype, data } = tensor;
  switch (dtype) {
    case "F32":
    case "I32":
      return littleEndianBytes(data);
    case "F16":
    case "BF16": {
      const convert = dtype === "F16" ? numberToF16Bits : numberToBf16Bits;
      const codes = new Uint16Array(data.length);
      for (let i = 0; i < data.length; i++) codes[i] = convert(data[i]);
      return littleEndianBytes(codes);
    }
    case "I64": {
      const words = new Int32Array(data.length * 2);
      for (let i = 0; i < data.length; i++) {
        words[2 * i] = data[i];
        words[2 * i + 1] = data[i] >> 31; // Sign extension.
      }
      return littleEndianBytes(words);
    }
    default:
      throw new TypeError(`Cannot write dtype "${dtype}"`);
  }
}

/**
 * Yields a planned file piece by piece: the header, then each tensor's bytes.
 *
 * Lets large checkpoints stream to disk without building the whole file in memory.
 *
 * @param layout Result of {@linkcode planSafetensors}.
 * @returns A generator of byte chunks whose concatenation is the file.
 * @example
 * ```ts
 * const layout = planSafetensors({ x: { dtype: "I32", shape: [], data: new Int32Array([7]) } });
 * let size = 0;
 * for (const chunk of safetensorsChunks(layout)) size += chunk.length;
 * size === layout.byteLength; // true
 * ```
 */
export function* safetensorsChunks(
  layout: SafetensorsLayout,
): Generator<Uint8Array, void, undefined> {
  yield layout.header;
  for (const { tensor } of layout.tensors) {
    if (tensor.data.length > 0) yield tensorToBytes(tensor);
  }
}

/**
 * Encodes tensors and metadata into one safetensors buffer.
 *
 * See {@linkcode planSafetensors} for the layout and ordering rules.
 *
 * @param tensors Tensors to write; `dtype` must be a {@linkcode SafeWriteDType}.
 * @param metadata Optional string→string map stored as `"__metadata__"`.
 * @param source Name used in error messages.
 * @throws {TypeError} For invalid names, dtypes, array types or metadata.
 * @throws {RangeError} When a tensor's data length does not match its shape.
 * @example
 * ```ts
 * const bytes = encodeSafetensors(
 *   { w: { dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } },
 *   { format: "pt" },
 * );
 * ```
 */
export function encodeSafetensors(
  tensors: SafeTensorEntries,
  metadata?: Readonly<Record<string, string>>,
  source = "safetensors data",
): Uint8Array {
  const layout = planSafetensors(tensors, metadata, source);
  const out = new Uint8Array(layout.byteLength);
  let offset = 0;
  for (const chunk of safetensorsChunks(layout)) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
