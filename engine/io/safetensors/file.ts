/**
 * Reading and writing safetensors files on disk.
 * @module
 */

import { type AtomicWriteOptions, writeFileAtomic, writeFileAtomicSync } from "../atomic.ts";
import { platform, type RandomAccessFile } from "../../platform/mod.ts";
import {
  type DecodeOptions,
  decodeSafetensors,
  decodeTensorBytes,
  type SafeTensor,
  type SafetensorsContents,
} from "./decode.ts";
import { planSafetensors, type SafeTensorEntries, safetensorsChunks } from "./encode.ts";
import { formatError, quote } from "./errors.ts";
import { parseSafetensorsHeader, readHeaderLength, type SafetensorsHeader } from "./header.ts";

/** Fills `buffer` from byte `offset`; a short read means the file shrank. */
async function readExactly(
  file: RandomAccessFile,
  offset: number,
  buffer: Uint8Array,
  path: string,
  what: string,
): Promise<void> {
  const read = await file.read(offset, buffer);
  if (read < buffer.length) {
    throw new RangeError(
      formatError(path, what, `file ended after ${read} of ${buffer.length} bytes`),
    );
  }
}

async function readHeaderFrom(file: RandomAccessFile, path: string): Promise<SafetensorsHeader> {
  const size = file.size;
  const prefix = new Uint8Array(Math.min(8, size));
  await readExactly(file, 0, prefix, path, "header");
  const length = readHeaderLength(prefix, size, path);
  const head = new Uint8Array(8 + length);
  head.set(prefix);
  await readExactly(file, 8, head.subarray(8), path, "header");
  return parseSafetensorsHeader(head, path, size);
}

/**
 * Reads and validates only the header of a safetensors file, without loading tensor data.
 *
 * @param path File path; used in error messages.
 * @returns The header with each tensor's dtype, shape and offsets.
 * @throws {RangeError} For sizes and offsets that do not fit the file.
 * @throws {TypeError} For malformed headers.
 * @example
 * ```ts
 * const header = await readSafetensorsHeader("model.safetensors");
 * for (const [name, info] of header.tensors) console.log(name, info.dtype, info.shape);
 * ```
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  using file = await platform().openFile(path);
  return await readHeaderFrom(file, path);
}

/**
 * Reads a safetensors file.
 *
 * Without a filter the file is read once into memory and F32/I32 tensors are views of that buffer
 * when aligned (as in any spec-conforming file), so a 500 MB F32 checkpoint costs about 500 MB.
 * With a filter only the header and the selected tensors' bytes are read.
 *
 * @param path File path; used in error messages.
 * @param options Copying and filtering; see {@linkcode DecodeOptions}.
 * @returns Tensors in file order and the metadata map.
 * @throws {RangeError} For sizes, offsets or integer values that do not fit.
 * @throws {TypeError} For malformed headers.
 * @example
 * ```ts
 * const { tensors, metadata } = await readSafetensors("model.safetensors");
 * const wte = tensors.get("wte.weight");
 * ```
 */
export async function readSafetensors(
  path: string,
  options: DecodeOptions = {},
): Promise<SafetensorsContents> {
  const { filter } = options;
  if (filter === undefined) {
    return decodeSafetensors(await platform().readFile(path), path, options);
  }
  using file = await platform().openFile(path);
  const header = await readHeaderFrom(file, path);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, info] of header.tensors) {
    if (!filter(name, info)) continue;
    const [begin, end] = info.dataOffsets;
    // A fresh buffer per tensor is aligned, and it is never shared, so views are safe.
    const span = new Uint8Array(end - begin);
    await readExactly(file, header.dataStart + begin, span, path, `tensor ${quote(name)}`);
    const data = decodeTensorBytes(span, info.dtype, name, path, true);
    tensors.set(name, { dtype: info.dtype, shape: [...info.shape], data });
  }
  return { tensors, metadata: header.metadata };
}

/**
 * Writes tensors to a safetensors file atomically, streaming tensor data to disk.
 *
 * Everything is validated before the file is touched. Layout and ordering follow
 * {@linkcode planSafetensors}: sorted by element size then name, contiguous offsets, header padded
 * to 8 bytes.
 *
 * @param path Target file path; parent directories are created.
 * @param tensors Tensors to write; `dtype` must be a {@linkcode SafeWriteDType}.
 * @param metadata Optional string→string map stored as `"__metadata__"`.
 * @param options Mode and fsync settings for the atomic write.
 * @returns A promise that resolves once the file is in place.
 * @throws {TypeError} For invalid names, dtypes, array types or metadata.
 * @throws {RangeError} When a tensor's data length does not match its shape.
 * @example
 * ```ts
 * await writeSafetensors("ckpt/model.safetensors", {
 *   "wte.weight": { dtype: "F32", shape: [2, 3], data: new Float32Array(6) },
 * }, { step: "1000" });
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: SafeTensorEntries,
  metadata?: Readonly<Record<string, string>>,
  options?: AtomicWriteOptions,
): Promise<void> {
  const layout = planSafetensors(tensors, metadata, path);
  await writeFileAtomic(path, safetensorsChunks(layout), options);
}

/**
 * Synchronous {@linkcode writeSafetensors}.
 *
 * @param path Target file path; parent directories are created.
 * @param tensors Tensors to write; `dtype` must be a {@linkcode SafeWriteDType}.
 * @param metadata Optional string→string map stored as `"__metadata__"`.
 * @param options Mode and fsync settings for the atomic write.
 * @throws {TypeError} For invalid names, dtypes, array types or metadata.
 * @throws {RangeError} When a tensor's data length does not match its shape.
 * @example
 * ```ts
 * writeSafetensorsSync("ids.safetensors", {
 *   ids: { dtype: "I32", shape: [3], data: new Int32Array([5, 6, 7]) },
 * });
 * ```
 */
export function writeSafetensorsSync(
  path: string,
  tensors: SafeTensorEntries,
  metadata?: Readonly<Record<string, string>>,
  options?: AtomicWriteOptions,
): void {
  const layout = planSafetensors(tensors, metadata, path);
  writeFileAtomicSync(path, safetensorsChunks(layout), options);
}
