/**
 * Decoding safetensors bytes into typed arrays.
 * @module
 */

import {
  bf16BitsToNumber,
  f16LookupTable,
  f8e4m3BitsToNumber,
  f8e5m2BitsToNumber,
  HOST_IS_LITTLE_ENDIAN,
  type SafeData,
  type SafeDType,
} from "./dtype.ts";
import { formatError, quote } from "./errors.ts";
import { parseSafetensorsHeader, type SafeTensorInfo } from "./header.ts";

/**
 * One tensor: its dtype, shape and row-major data.
 *
 * When decoding, `dtype` is the dtype stored in the file and `data` holds the converted values.
 * When encoding, `dtype` is the dtype to store and must be a {@linkcode SafeWriteDType}.
 */
export interface SafeTensor {
  /** Element type in the file. */
  dtype: SafeDType;
  /** Dimensions; `[]` is a scalar with one element. */
  shape: number[];
  /** Row-major values: `Float32Array` for floating dtypes, `Int32Array` for the rest. */
  data: SafeData;
}

/** Decoded contents of a safetensors file. */
export interface SafetensorsContents {
  /** Tensors in file order (by data offset). */
  tensors: Map<string, SafeTensor>;
  /** The `"__metadata__"` map; `{}` when the file has none. */
  metadata: Record<string, string>;
}

/** Options for {@linkcode decodeSafetensors} and {@linkcode readSafetensors}. */
export interface DecodeOptions {
  /**
   * Always copy tensor data. By default F32 and I32 tensors whose data is 4-byte aligned in the
   * input buffer are returned as views of it, which avoids doubling memory for large checkpoints
   * but means they share (and keep alive) the input buffer.
   */
  copy?: boolean;
  /** Decode only the tensors for which this returns `true`; the header is still fully validated. */
  filter?: (name: string, info: SafeTensorInfo) => boolean;
}

type TypedArrayConstructor<T> = {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/**
 * Interprets little-endian bytes as a typed array: a view when allowed and aligned, otherwise one
 * copy (plus a byte swap on big-endian hosts).
 */
function littleEndianArray<T>(
  span: Uint8Array,
  ctor: TypedArrayConstructor<T>,
  alias: boolean,
): T {
  const size = ctor.BYTES_PER_ELEMENT;
  const count = span.length / size;
  if (HOST_IS_LITTLE_ENDIAN) {
    if (alias && span.byteOffset % size === 0) return new ctor(span.buffer, span.byteOffset, count);
    return new ctor(span.slice().buffer);
  }
  const swapped = new Uint8Array(span.length);
  for (let i = 0; i < span.length; i += size) {
    for (let b = 0; b < size; b++) swapped[i + b] = span[i + size - 1 - b];
  }
  return new ctor(swapped.buffer);
}

let e4m3Table: Float32Array | undefined;
let e5m2Table: Float32Array | undefined;

function byteTable(convert: (bits: number) => number): Float32Array {
  const table = new Float32Array(256);
  for (let bits = 0; bits < 256; bits++) table[bits] = convert(bits);
  return table;
}

function lookup(codes: ArrayLike<number>, table: Float32Array): Float32Array {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = table[codes[i]];
  return out;
}

/**
 * Decodes the bytes of one tensor.
 *
 * F16, BF16, F64 and F8 become `Float32Array` (F64 is rounded to F32 because the engine computes
 * in F32; values beyond its range become ±Infinity). Integer and boolean dtypes become
 * `Int32Array`; U32, I64 and U64 values outside the Int32 range throw instead of wrapping.
 *
 * @param span Exactly the tensor's bytes, little-endian.
 * @param dtype Element type of `span`.
 * @param name Tensor name for error messages.
 * @param source File name for error messages.
 * @param alias Allow returning a view of `span` for F32 and I32 when it is 4-byte aligned.
 * @throws {RangeError} When an integer does not fit in Int32, or `span` is not a whole number of
 *   elements.
 * @example
 * ```ts
 * decodeTensorBytes(new Uint8Array([0x00, 0x3c]), "F16", "one", "inline", false); // Float32Array [1]
 * ```
 */
export function decodeTensorBytes(
  span: Uint8Array,
  dtype: SafeDType,
  name: string,
  source: string,
  alias: boolean,
): SafeData {
  const where = `tensor ${quote(name)}`;
  switch (dtype) {
    case "F32":
      checkWhole(span, 4, where, source);
      return littleEndianArray(span, Float32Array, alias);
    case "I32":
      checkWhole(span, 4, where, source);
      return littleEndianArray(span, Int32Array, alias);
    case "F16":
      checkWhole(span, 2, where, source);
      return lookup(littleEndianArray(span, Uint16Array, true), f16LookupTable());
    case "BF16": {
      checkWhole(span, 2, where, source);
      const codes = littleEndianArray(span, Uint16Array, true);
      const out = new Float32Array(codes.length);
      if (HOST_IS_LITTLE_ENDIAN) {
        // BF16 is the high half of an F32, so shifting the bits in is exact and fast.
        const bits = new Uint32Array(out.buffer);
        for (let i = 0; i < codes.length; i++) bits[i] = codes[i] << 16;
      } else {
        for (let i = 0; i < codes.length; i++) out[i] = bf16BitsToNumber(codes[i]);
      }
      return out;
    }
    case "F64": {
      checkWhole(span, 8, where, source);
      return Float32Array.from(littleEndianArray(span, Float64Array, true));
    }
    case "F8_E4M3":
      e4m3Table ??= byteTable(f8e4m3BitsToNumber);
      return lookup(span, e4m3Table);
    case "F8_E5M2":
      e5m2Table ??= byteTable(f8e5m2BitsToNumber);
      return lookup(span, e5m2Table);
    case "BOOL":
    case "U8":
      return Int32Array.from(span);
    case "I8":
      return Int32Array.from(new Int8Array(span.buffer, span.byteOffset, span.length));
    case "I16":
      checkWhole(span, 2, where, source);
      return Int32Array.from(littleEndianArray(span, Int16Array, true));
    case "U16":
      checkWhole(span, 2, where, source);
      return Int32Array.from(littleEndianArray(span, Uint16Array, true));
    case "U32": {
      checkWhole(span, 4, where, source);
      // Same bits as I32; values of 2^31 and above show up as negative.
      const out = littleEndianArray(span, Int32Array, alias);
      const bad = out.findIndex((v) => v < 0);
      if (bad >= 0) throw outOfRange(BigInt(out[bad] >>> 0), bad, dtype, where, source);
      return out;
    }
    case "I64":
    case "U64": {
      checkWhole(span, 8, where, source);
      const words = littleEndianArray(span, Uint32Array, true);
      const out = new Int32Array(words.length / 2);
      const signed = dtype === "I64";
      for (let i = 0; i < out.length; i++) {
        const low = words[2 * i];
        const high = words[2 * i + 1];
        // In range iff the high word is the sign extension of the low word.
        const fits = high === 0
          ? low <= 0x7fffffff
          : signed && high === 0xffffffff && low >= 0x80000000;
        if (!fits) {
          const highPart = signed ? BigInt(high | 0) : BigInt(high);
          throw outOfRange((highPart << 32n) | BigInt(low), i, dtype, where, source);
        }
        out[i] = low | 0;
      }
      return out;
    }
  }
}

function checkWhole(span: Uint8Array, size: number, where: string, source: string): void {
  if (span.length % size !== 0) {
    throw new RangeError(
      formatError(
        source,
        where,
        `${span.length} bytes is not a whole number of ${size}-byte elements`,
      ),
    );
  }
}

function outOfRange(
  value: bigint,
  index: number,
  dtype: SafeDType,
  where: string,
  source: string,
): RangeError {
  return new RangeError(
    formatError(
      source,
      where,
      `${dtype} element ${index} is ${value}, outside the Int32 range it is decoded to`,
    ),
  );
}

/**
 * Decodes a complete safetensors file held in memory.
 *
 * The header is validated first (see {@linkcode parseSafetensorsHeader}); each tensor is then
 * converted as described in {@linkcode decodeTensorBytes}.
 *
 * @param bytes The whole file.
 * @param source Name used in error messages, typically the file path.
 * @param options Copying and filtering; see {@linkcode DecodeOptions}.
 * @returns Tensors in file order and the metadata map.
 * @throws {RangeError} For sizes, offsets or integer values that do not fit.
 * @throws {TypeError} For malformed headers.
 * @example
 * ```ts
 * import { encodeSafetensors } from "./encode.ts";
 *
 * const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } });
 * decodeSafetensors(bytes, "w.safetensors").tensors.get("w")?.data; // Float32Array [1, 2]
 * ```
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = "safetensors data",
  options: DecodeOptions = {},
): SafetensorsContents {
  const header = parseSafetensorsHeader(bytes, source);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, info] of header.tensors) {
    if (options.filter !== undefined && !options.filter(name, info)) continue;
    const [begin, end] = info.dataOffsets;
    const span = bytes.subarray(header.dataStart + begin, header.dataStart + end);
    const data = decodeTensorBytes(span, info.dtype, name, source, options.copy !== true);
    tensors.set(name, { dtype: info.dtype, shape: [...info.shape], data });
  }
  return { tensors, metadata: header.metadata };
}
