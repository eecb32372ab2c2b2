/**
 * Checking an output folder before long work starts: it can be created and written, and its file
 * system has room for what will be written, so a read-only or full disk is reported at once and
 * not after an hour of training.
 * @module
 */
import { statfs } from "node:fs/promises";
import { platform } from "../platform/mod.ts";
import { tempPathFor, writeFileAtomic } from "./atomic.ts";

/**
 * Free bytes for an unprivileged writer on the file system of `dir`, or null when the platform
 * cannot tell.
 * @param dir An existing folder.
 */
export async function freeBytes(dir: string): Promise<number | null> {
  try {
    const s = await statfs(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

/**
 * A byte count for messages: `512 B`, `3.4 MB`, `1.20 GB`.
 * @param bytes Count.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1e3) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

/**
 * Creates `dir` if needed and checks that a file can be created in it and that its file system
 * has at least `bytes` free (when the platform can tell).
 * @param dir The output folder.
 * @param bytes What will be written there, estimated (0 to check writability only).
 * @param what What will be written, for the message (e.g. "the checkpoints").
 * @throws {Error} Naming the folder: not creatable, not writable, or short of space.
 */
export async function checkOutputDir(
  dir: string,
  bytes: number,
  what = "the output",
): Promise<void> {
  try {
    await platform().mkdir(dir);
  } catch (e) {
    throw new Error(`Cannot create the output folder "${dir}": ${(e as Error).message}`, {
      cause: e,
    });
  }
  const probe = tempPathFor(`${dir}/.write-probe`);
  try {
    await writeFileAtomic(probe, "", { createNew: true, fsync: false });
  } catch (e) {
    throw new Error(`Cannot write into the output folder "${dir}": ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    await platform().remove(probe).catch(() => {});
  }
  const free = await freeBytes(dir);
  if (free !== null && free < bytes) {
    throw new Error(
      `Not enough space in "${dir}" for ${what}: about ${formatBytes(bytes)} needed, ${
        formatBytes(free)
      } free`,
    );
  }
}
