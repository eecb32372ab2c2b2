/**
 * Atomic file writes on Deno: the data goes to a temporary file in the target's directory (a
 * rename is only atomic within one file system), is flushed with fsync, and is then renamed over
 * the target. On failure the temporary file is removed and the target is left untouched. A
 * process killed before the rename can leave a `.<name>.<random>.tmp` file behind, but never a
 * damaged target.
 * @module
 */
import type { AtomicData, AtomicDataSync, AtomicWriteOptions } from "./types.ts";

const encoder = new TextEncoder();
// Read lazily: this module is also part of the browser bundle, where `Deno` does not exist.
const isWindows = (): boolean => Deno.build.os === "windows";

// The folder and name of a path, without node:path (which a browser bundle cannot resolve).
function splitPath(path: string): { dir: string; name: string } {
  const cut = Math.max(path.lastIndexOf("/"), isWindows() ? path.lastIndexOf("\\") : -1);
  if (cut < 0) return { dir: ".", name: path };
  return { dir: cut === 0 ? path.slice(0, 1) : path.slice(0, cut), name: path.slice(cut + 1) };
}

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
  const { dir, name } = splitPath(target);
  return `${dir}/.${name}.${tag}.tmp`;
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
  const target = await resolveTarget(path);
  const { dir } = splitPath(target);
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
    if (mode !== undefined && !isWindows()) await Deno.chmod(temp, mode);
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
 * Synchronous {@linkcode writeFileAtomicDeno}, for sync data.
 * @throws {TypeError} When a chunk is neither a `Uint8Array` nor a string.
 */
export function writeFileAtomicSyncDeno(
  path: string,
  data: AtomicDataSync,
  options: AtomicWriteOptions = {},
): void {
  const target = resolveTargetSync(path);
  const { dir } = splitPath(target);
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
    if (mode !== undefined && !isWindows()) Deno.chmodSync(temp, mode);
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
