/**
 * Atomic file writes: readers see either the old file or the complete new one, never a torn
 * write, even if the process is killed (Ctrl-C) midway.
 *
 * The data goes to a temporary file in the target's directory (a rename is only atomic within one
 * file system), is flushed with fsync, and is then renamed over the target. On failure the
 * temporary file is removed and the target is left untouched. A process killed before the rename
 * can leave a `.<name>.<random>.tmp` file behind, but never a damaged target.
 * @module
 */

import { basename, dirname, join } from "node:path";

/** Chunks accepted by the async writers: strings are written as UTF-8. */
export type AtomicData =
  | Uint8Array
  | string
  | Iterable<Uint8Array | string>
  | AsyncIterable<Uint8Array | string>;

/** Chunks accepted by the sync writers. */
export type AtomicDataSync = Uint8Array | string | Iterable<Uint8Array | string>;

/** Options for the atomic writers. */
export interface AtomicWriteOptions {
  /**
   * Permission bits for the file. By default an existing target's mode is kept and a new file gets
   * `0o666` minus the umask. Ignored on Windows.
   */
  mode?: number;
  /** Flush file contents and the directory entry to disk; default `true`. Disable only for scratch data. */
  fsync?: boolean;
}

/** Options for {@linkcode writeJsonAtomic}. */
export interface JsonWriteOptions extends AtomicWriteOptions {
  /** Spaces per indentation level; `0` writes compact JSON. Default `2`. */
  indent?: number;
}

const encoder = new TextEncoder();
const isWindows = Deno.build.os === "windows";

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encoder.encode(chunk);
  throw new TypeError(
    `Cannot write chunk of type "${typeof chunk}": expected a Uint8Array or a string`,
  );
}

function tempPathFor(target: string): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  const tag = `${Deno.pid.toString(36)}${random[0].toString(36)}${random[1].toString(36)}`;
  return join(dirname(target), `.${basename(target)}.${tag}.tmp`);
}

/** Resolves symlinks so the link's target file is replaced, not the link itself. */
async function resolveTarget(path: string): Promise<string> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return path;
    throw error;
  }
}

function resolveTargetSync(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return path;
    throw error;
  }
}

async function existingMode(path: string): Promise<number | undefined> {
  try {
    const mode = (await Deno.stat(path)).mode;
    return mode === null ? undefined : mode & 0o7777;
  } catch {
    return undefined;
  }
}

function existingModeSync(path: string): number | undefined {
  try {
    const mode = Deno.statSync(path).mode;
    return mode === null ? undefined : mode & 0o7777;
  } catch {
    return undefined;
  }
}

/** Best-effort directory fsync so the rename itself survives a power loss; unsupported on Windows. */
async function syncDirectory(dir: string): Promise<void> {
  if (isWindows) return;
  try {
    using handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Some file systems refuse to fsync directories; the data itself is already flushed.
  }
}

function syncDirectorySync(dir: string): void {
  if (isWindows) return;
  try {
    using handle = Deno.openSync(dir, { read: true });
    handle.syncSync();
  } catch {
    // See syncDirectory.
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
}

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) offset += file.writeSync(bytes.subarray(offset));
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.iterator in value;
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
  const target = await resolveTarget(path);
  const dir = dirname(target);
  await Deno.mkdir(dir, { recursive: true });
  const mode = options.mode ?? await existingMode(target);
  const temp = tempPathFor(target);
  const file = await Deno.open(temp, { write: true, createNew: true, mode: mode ?? 0o666 });
  let closed = false;
  try {
    if (data instanceof Uint8Array || typeof data === "string") {
      await writeAll(file, toBytes(data));
    } else if (isAsyncIterable(data)) {
      for await (const chunk of data) await writeAll(file, toBytes(chunk));
    } else if (isIterable(data)) {
      for (const chunk of data) await writeAll(file, toBytes(chunk));
    } else {
      toBytes(data); // Throws the TypeError for an unsupported value.
    }
    // open() applies the umask, so an explicit or preserved mode needs chmod to be exact.
    if (mode !== undefined && !isWindows) await Deno.chmod(temp, mode);
    if (options.fsync !== false) await file.sync();
    file.close();
    closed = true;
    await Deno.rename(temp, target);
  } catch (error) {
    if (!closed) file.close();
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  if (options.fsync !== false) await syncDirectory(dir);
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
  const target = resolveTargetSync(path);
  const dir = dirname(target);
  Deno.mkdirSync(dir, { recursive: true });
  const mode = options.mode ?? existingModeSync(target);
  const temp = tempPathFor(target);
  const file = Deno.openSync(temp, { write: true, createNew: true, mode: mode ?? 0o666 });
  let closed = false;
  try {
    if (data instanceof Uint8Array || typeof data === "string") {
      writeAllSync(file, toBytes(data));
    } else if (isIterable(data)) {
      for (const chunk of data) writeAllSync(file, toBytes(chunk));
    } else {
      toBytes(data);
    }
    if (mode !== undefined && !isWindows) Deno.chmodSync(temp, mode);
    if (options.fsync !== false) file.syncSync();
    file.close();
    closed = true;
    Deno.renameSync(temp, target);
  } catch (error) {
    if (!closed) file.close();
    try {
      Deno.removeSync(temp);
    } catch {
      // Already gone or never fully created; nothing else to clean up.
    }
    throw error;
  }
  if (options.fsync !== false) syncDirectorySync(dir);
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
