/**
 * Atomic file writes: readers see either the old file or the complete new one, never a torn
 * write, even if the process is killed (Ctrl-C) midway. The platform does the work (on Deno a
 * temporary file in the target's folder, fsync, rename: `engine/platform/deno_atomic.ts`); a
 * browser tab cannot write.
 * @module
 */
import { platform } from "../platform/mod.ts";
import type { AtomicData, AtomicDataSync, AtomicWriteOptions } from "../platform/mod.ts";

export type { AtomicData, AtomicDataSync, AtomicWriteOptions } from "../platform/mod.ts";

/** Options for {@linkcode writeJsonAtomic}. */
export interface JsonWriteOptions extends AtomicWriteOptions {
  /** Spaces per indentation level; `0` writes compact JSON. Default `2`. */
  indent?: number;
}

/**
 * Writes a file atomically: the target ends up with either its old contents or all of `data`.
 *
 * Parent directories are created. `data` may be bytes, a string (written as UTF-8) or a sync or
 * async iterable of chunks, so large outputs can be streamed; if the iterable throws, the
 * temporary file is removed, the error is rethrown and the target is unchanged. Symlinks are
 * followed, so the file a link points to is replaced.
 *
 * @param path Target file path.
 * @param data Contents, or chunks of contents.
 * @param options Mode and fsync settings.
 * @returns A promise that resolves once the new file is in place.
 * @throws {TypeError} When a chunk is neither a `Uint8Array` nor a string.
 * @example
 * ```ts
 * await writeFileAtomic("out/checkpoint.bin", new Uint8Array([1, 2, 3]));
 * await writeFileAtomic("out/log.txt", ["line 1\n", "line 2\n"]);
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: AtomicData,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await platform().writeFileAtomic(path, data, options);
}

/**
 * Synchronous {@linkcode writeFileAtomic}: same guarantees, for sync data.
 *
 * @param path Target file path.
 * @param data Contents, or a sync iterable of chunks.
 * @param options Mode and fsync settings.
 * @throws {TypeError} When a chunk is neither a `Uint8Array` nor a string.
 * @example
 * ```ts
 * writeFileAtomicSync("out/status.txt", "done\n");
 * ```
 */
export function writeFileAtomicSync(
  path: string,
  data: AtomicDataSync,
  options: AtomicWriteOptions = {},
): void {
  platform().writeFileAtomicSync(path, data, options);
}

function toJson(value: unknown, indent: number | undefined): string {
  const text = JSON.stringify(value, null, indent ?? 2);
  if (text === undefined) {
    throw new TypeError(`Cannot write "${typeof value}" value as JSON`);
  }
  return `${text}\n`;
}

/**
 * Writes a value as JSON (with a trailing newline) atomically.
 *
 * The value is serialized before the file is touched, so a serialization error (a cycle, a
 * `BigInt`) leaves the target unchanged.
 *
 * @param path Target file path.
 * @param value Value accepted by `JSON.stringify`.
 * @param options Indentation, mode and fsync settings.
 * @returns A promise that resolves once the new file is in place.
 * @throws {TypeError} When `value` has no JSON form (e.g. `undefined`) or cannot be serialized.
 * @example
 * ```ts
 * await writeJsonAtomic("out/metrics.json", { step: 100, loss: 2.31 });
 * ```
 */
export async function writeJsonAtomic(
  path: string,
  value: unknown,
  options: JsonWriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, toJson(value, options.indent), options);
}

/**
 * Synchronous {@linkcode writeJsonAtomic}.
 *
 * @param path Target file path.
 * @param value Value accepted by `JSON.stringify`.
 * @param options Indentation, mode and fsync settings.
 * @throws {TypeError} When `value` has no JSON form or cannot be serialized.
 * @example
 * ```ts
 * writeJsonAtomicSync("out/config.json", { layers: 12 }, { indent: 0 });
 * ```
 */
export function writeJsonAtomicSync(
  path: string,
  value: unknown,
  options: JsonWriteOptions = {},
): void {
  writeFileAtomicSync(path, toJson(value, options.indent), options);
}
