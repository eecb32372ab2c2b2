/**
 * How a file is named in error messages (internal).
 * @module
 */

/**
 * The name a loader uses for `path` in error messages: the path as given, or a file URL's path.
 * @param path File path or URL.
 * @example
 * ```ts
 * import { sourceName } from "./source.ts";
 * console.log(sourceName(new URL("file:///d/a%20b.json"))); // "/d/a b.json"
 * ```
 */
export function sourceName(path: string | URL): string {
  if (typeof path === "string") return path;
  return path.protocol === "file:" ? decodeURIComponent(path.pathname) : path.href;
}
