/**
 * Atomic file writes: readers see either the old file or the complete new one, never a torn
 * write, even if the process is killed (Ctrl-C) midway. The platform does the work (on Deno a
 * temporary file in the target's folder, fsync, rename: `engine/platform/deno_atomic.ts`); a
 * browser tab cannot write. A killed writer can leave a `.<name>.<pid>-<random>.tmp` file behind,
 * never a damaged target; the next writer of the folder removes such leftovers with
 * {@linkcode removeStaleTemps}. A failed write names its target (an OS error such as "No space
 * left on device" does not).
 * @module
 */
import { isNotADirectory, isNotFound, platform } from "../platform/mod.ts";
import type { AtomicData, AtomicDataSync, AtomicWriteOptions } from "../platform/mod.ts";
import { TEMP_NAME, tempPathFor as tempPathWith } from "../platform/temp_path.ts";

export type { AtomicData, AtomicDataSync, AtomicWriteOptions } from "../platform/mod.ts";

/**
 * A fresh temporary path beside `target`: `.<name>.<pid>-<random>.tmp`, the writer's process id
 * in base 36 so that leftovers of a killed writer can be told from live ones.
 * @param target The file the temporary one will replace.
 * @returns The temporary path (in the same folder, so a rename is atomic).
 */
export function tempPathFor(target: string): string {
  return tempPathWith(target, platform().pid);
}

/**
 * Whether a process of this machine is alive. Known only where `/proc` exists (Linux); elsewhere
 * every process is assumed alive, so nothing of a live writer is ever removed.
 * @param pid Process id.
 */
export function processAlive(pid: number): boolean {
  return platform().processAlive(pid);
}

/**
 * Removes the temporary files that killed writers left in a folder (and its sub-folders): those
 * of processes no longer alive, and those of the older naming without a process id. Call it when
 * starting to write a folder that no one else writes (e.g. under a `lockDir` lock).
 * @param dir The folder (a missing one is fine).
 * @returns The paths removed.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let entries;
  try {
    entries = await platform().listDir(dir);
  } catch (e) {
    if (isNotFound(e) || isNotADirectory(e)) return removed;
    throw namingFile(e, dir, "read");
  }
  for (const e of entries) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) {
      removed.push(...await removeStaleTemps(path));
      continue;
    }
    const m = TEMP_NAME.exec(e.name);
    if (m === null || !e.isFile) continue;
    if (m[2] !== undefined && processAlive(parseInt(m[1], 36))) continue;
    await platform().remove(path).then(() => removed.push(path), () => {});
  }
  return removed;
}

/**
 * The same error with the file named: OS errors of a write (e.g. "No space left on device (os
 * error 28)") do not say which file. Keeps the error's class and `code`; other errors (a
 * producer's own, an argument error) and messages that already name the file are returned as
 * they are.
 * @param error What was thrown.
 * @param path The file.
 * @param verb What was being done (default "write").
 */
export function namingFile(error: unknown, path: string, verb = "write"): unknown {
  return platform().namingFile(error, path, verb);
}

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
