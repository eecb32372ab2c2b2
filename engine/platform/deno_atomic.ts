/**
 * Atomic file writes on Deno: the data goes to a temporary file in the target's directory (a
 * rename is only atomic within one file system), is flushed with fsync, and is then renamed over
 * the target. On failure the temporary file is removed and the target is left untouched. A
 * process killed before the rename can leave a `.<name>.<pid>-<random>.tmp` file behind, but
 * never a damaged target; the next writer of the folder removes such leftovers
 * (`removeStaleTemps` of `engine/io/atomic.ts`). A failed write names its target (an OS error such
 * as "No space left on device" does not).
 * @module
 */
import { splitPath as split, tempPathFor as tempPath } from "./temp_path.ts";
import type { AtomicData, AtomicDataSync, AtomicWriteOptions } from "./types.ts";

const encoder = new TextEncoder();
// Read lazily: this module is also part of the browser bundle, where `Deno` does not exist.
const isWindows = (): boolean => Deno.build.os === "windows";
const splitPath = (path: string) => split(path, isWindows());
const tempPathFor = (target: string) => tempPath(target, Deno.pid, isWindows());

function alreadyExists(path: string): Error {
  return new Deno.errors.AlreadyExists(`"${path}" already exists and is never overwritten`);
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
export function namingFileDeno(error: unknown, path: string, verb = "write"): unknown {
  if (!isOsError(error) || error.message.includes(path)) return error;
  const Ctor = error.constructor as new (message: string, options?: ErrorOptions) => Error;
  const named = new Ctor(`Cannot ${verb} "${path}": ${error.message}`, { cause: error });
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) Object.assign(named, { code });
  return named;
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encoder.encode(chunk);
  throw new TypeError(
    `Cannot write chunk of type "${typeof chunk}": expected a Uint8Array or a string`,
  );
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
  if (isWindows()) return;
  try {
    using handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Some file systems refuse to fsync directories; the data itself is already flushed.
  }
}

function syncDirectorySync(dir: string): void {
  if (isWindows()) return;
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
 * Writes `data` to `path` atomically (see the module doc); parent folders are created and
 * symlinks followed.
 * @throws {TypeError} When a chunk is neither a `Uint8Array` nor a string.
 */
export async function writeFileAtomicDeno(
  path: string,
  data: AtomicData,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const target = options.createNew ? path : await resolveTarget(path);
  const { dir } = splitPath(target);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw namingFileDeno(error, dir, "create the folder");
  }
  const mode = options.mode ?? await existingMode(target);
  const temp = tempPathFor(target);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { write: true, createNew: true, mode: mode ?? 0o666 });
  } catch (error) {
    throw namingFileDeno(error, path);
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
    if (mode !== undefined && !isWindows()) await Deno.chmod(temp, mode);
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
    throw namingFileDeno(error, path);
  }
  if (options.fsync !== false) await syncDirectory(dir);
}

/**
 * Synchronous {@linkcode writeFileAtomicDeno}, for sync data.
 * @throws {TypeError} When a chunk is neither a `Uint8Array` nor a string.
 */
export function writeFileAtomicSyncDeno(
  path: string,
  data: AtomicDataSync,
  options: AtomicWriteOptions = {},
): void {
  const target = options.createNew ? path : resolveTargetSync(path);
  const { dir } = splitPath(target);
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw namingFileDeno(error, dir, "create the folder");
  }
  const mode = options.mode ?? existingModeSync(target);
  const temp = tempPathFor(target);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(temp, { write: true, createNew: true, mode: mode ?? 0o666 });
  } catch (error) {
    throw namingFileDeno(error, path);
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
    if (mode !== undefined && !isWindows()) Deno.chmodSync(temp, mode);
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
    throw namingFileDeno(error, path);
  }
  if (options.fsync !== false) syncDirectorySync(dir);
}
