/**
 * The safetensors format: an 8-byte little-endian header length `N`, `N` bytes of JSON
 * describing each tensor's dtype, shape and byte range, then the raw tensor bytes.
 *
 * Reading accepts BOOL, U8, I8, I16, U16, I32, U32, I64, U64 (as `Int32Array`, range-checked)
 * and F16, BF16, F32, F64, F8_E4M3, F8_E5M2 (as `Float32Array`). Writing supports F32, F16, BF16,
 * I32 and I64, with tensors ordered by element size then name.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 *
 * await writeSafetensors("tiny.safetensors", {
 *   w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
 * }, { note: "demo" });
 * const { tensors, metadata } = await readSafetensors("tiny.safetensors");
 * ```
 * @module
 */

export {
  bf16BitsToNumber,
  decodedArrayKind,
  f16BitsToNumber,
  f16LookupTable,
  f8e4m3BitsToNumber,
  f8e5m2BitsToNumber,
  HOST_IS_LITTLE_ENDIAN,
  isSafeDType,
  isSafeWriteDType,
  numberToBf16Bits,
  numberToF16Bits,
  SAFE_DTYPE_SIZES,
  type SafeData,
  type SafeDType,
  type SafeWriteDType,
} from "./safetensors/dtype.ts";
export {
  MAX_HEADER_LENGTH,
  parseSafetensorsHeader,
  readHeaderLength,
  type SafeTensorInfo,
  type SafetensorsHeader,
} from "./safetensors/header.ts";
export {
  type DecodeOptions,
  decodeSafetensors,
  decodeTensorBytes,
  type SafeTensor,
  type SafetensorsContents,
} from "./safetensors/decode.ts";
export {
  encodeSafetensors,
  type PlannedTensor,
  planSafetensors,
  type SafeTensorEntries,
  safetensorsChunks,
  type SafetensorsLayout,
  tensorToBytes,
} from "./safetensors/encode.ts";
export {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  writeSafetensorsSync,
} from "./safetensors/file.ts";
