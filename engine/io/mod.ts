/**
 * File input and output: the safetensors tensor format (an 8-byte little-endian header length, a
 * JSON header of dtypes, shapes and byte ranges, the raw bytes), written atomically.
 * @module
 */
export type { AtomicWriteOptions } from "./atomic.ts";
export { readSafetensors, writeSafetensors } from "./safetensors.ts";
export type {
  DecodeOptions,
  SafeData,
  SafeDType,
  SafeTensor,
  SafeTensorEntries,
  SafeTensorInfo,
  SafetensorsContents,
} from "./safetensors.ts";
