/**
 * The one door to the host: the engine, the GPT and the editors call {@linkcode platform}
 * instead of `Deno.*`, so the same sources run in Deno and, bundled, in a browser tab. Deno is
 * detected; a tab gets a `fetch`-reading platform rooted at its page, or the one a page sets
 * with {@linkcode setPlatform} before loading anything.
 * @module
 */
import { browserPlatform } from "./browser.ts";
import { denoPlatform } from "./deno.ts";
import type { Platform } from "./types.ts";

export { browserPlatform } from "./browser.ts";
export { denoPlatform } from "./deno.ts";
export { isAlreadyExists, isNotADirectory, isNotFound, notFoundError } from "./types.ts";
export type {
  AtomicData,
  AtomicDataSync,
  AtomicWriteOptions,
  DirEntry,
  FileInfo,
  Platform,
  RandomAccessFile,
  WritableFile,
} from "./types.ts";

let current: Platform | null = null;

/** The platform in use: Deno's in Deno, else a browser platform reading relative to the page. */
export function platform(): Platform {
  current ??= "Deno" in globalThis ? denoPlatform : browserPlatform(globalThis.location.href);
  return current;
}

/**
 * Replaces the platform (a page whose files live under another URL; tests).
 * @param next The platform every later call uses.
 */
export function setPlatform(next: Platform): void {
  current = next;
}
