/**
 * Atomic file writes: readers see either the old file or the complete new one, never a torn
 * write, even if the process is killed (Ctrl-C) midway.
 *
 * The data goes to a temporary file in the target's directory (a rename is only atomic within one
 * file system), is flushed with fsync, and is then renamed over the target. On failure the
 * temporary file is removed and the target is left untouched. A process killed before the rename
 * can leave a `.<name>.<pid>-<random>.tmp` file behind, but never a damaged target; the next
 * writer of the folder removes such leftovers with {@linkcode removeStaleTemps}. A failed write
 * names its target (an OS error such as "No space left on device" does not).
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
  /**
   * Never replace an existing target: the complete file is hard-linked into place instead of
   * renamed, and an existing target fails with `Deno.errors.AlreadyExists` (default false).
   * For append-only logs. Symlinks are not followed then.
   */
  createNew?: boolean;
}

function alreadyExists(path: string): Error {
  return new Deno.errors.AlreadyExists(`"${path}" already exists and is never overwritten`);
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

/**
 * A fresh temporary path beside `target`: `.<name>.<pid>-<random>.tmp`, the writer's process id
 * in base 36 so that leftovers of a killed writer can be told from live ones.
 * @param target The file the temporary one will replace.
 * @returns The temporary path (in the same folder, so a rename is atomic).
 */
export function tempPathFor(target: string): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  const tag = `${Deno.pid.toString(36)}-${random[0].toString(36)}${random[1].toString(36)}`;
  return join(dirname(target), `.${basename(target)}.${tag}.tmp`);
}

// `.<name>.<pid>-<random>.tmp`; the older `.<name>.<random>.tmp` form has no dash.
const TEMP_NAME = /^\..+\.([0-9a-z]+)(-[0-9a-z]+)?\.tmp$/;

/**
 * Whether a process of this machine is alive. Known only where `/proc` exists (Linux); elsewhere
 * every process is assumed alive, so nothing of a live writer is ever removed.
 * @param pid Process id.
 */
export function processAlive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync("/proc/self");
  } catch {
    return true;
  }
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes the temporary files that killed writers left in a folder (and its sub-folders): those
 * of processes no longer alive, and those of the older naming without a process id. Call it when
 * starting to write a folder that no one else writes (e.g. under a {@linkcode lockDir} lock).
 * @param dir The folder (a missing one is fine).
 * @returns The paths removed.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return removed;
    throw namingFile(e, dir, "read");
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory) {
      removed.push(...await removeStaleTemps(path));
      continue;
    }
    const m = TEMP_NAME.exec(e.name);
    if (m === null || !e.isFile) continue;
    if (m[2] !== undefined && processAlive(parseInt(m[1], 36))) continue;
    await Deno.remove(path).then(() => removed.push(path), () => {});
  }
  return removed;
}

// An error of the operating system: one of Deno's error classes, or an error with an errno code.
function isOsError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  if (typeof (error as { code?: unknown }).code === "string") return true;
  return Object.values(Deno.errors).some((C) => error instanceof C);
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
  if (!isOsError(error) || error.message.includes(path)) return error;
  const Ctor = error.constructor as new (message: string, options?: ErrorOptions) => Error;
  const named = new Ctor(`Cannot ${verb} "${path}": ${error.message}`, { cause: error });
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) Object.assign(named, { code });
  return named;
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
  const target = options.createNew ? path : await resolveTarget(path);
  const dir = dirname(target);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw namingFile(error, dir, "create the folder");
  }
  const mode = options.mode ?? await existingMode(target);
  const temp = tempPathFor(target);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { write: true, createNew: true, mode: mode ?? 0o666 });
  } catch (error) {
    throw namingFile(error, path);
  }
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
    if (options.createNew) {
      await Deno.link(temp, target).catch((e) => {
        throw e instanceof Deno.errors.AlreadyExists ? alreadyExists(path) : e;
      });
      await Deno.remove(temp);
    } else {
      await Deno.rename(temp, target);
    }
  } catch (error) {
    if (!closed) file.close();
    await Deno.remove(temp).catch(() => {});
    throw namingFile(error, path);
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
  const target = options.createNew ? path : resolveTargetSync(path);
  const dir = dirname(target);
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw namingFile(error, dir, "create the folder");
  }
  const mode = options.mode ?? existingModeSync(target);
  const temp = tempPathFor(target);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(temp, { write: true, createNew: true, mode: mode ?? 0o666 });
  } catch (error) {
    throw namingFile(error, path);
  }
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
    if (options.createNew) {
      try {
        Deno.linkSync(temp, target);
      } catch (e) {
        throw e instanceof Deno.errors.AlreadyExists ? alreadyExists(path) : e;
      }
      Deno.removeSync(temp);
    } else {
      Deno.renameSync(temp, target);
    }
  } catch (error) {
    if (!closed) file.close();
    try {
      Deno.removeSync(temp);
    } catch {
      // Already gone or never fully created; nothing else to clean up.
    }
    throw namingFile(error, path);
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
