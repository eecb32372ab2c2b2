/**
 * Names of the temporary files an atomic write leaves beside its target until the rename:
 * `.<name>.<pid>-<random>.tmp`, the writer's process id in base 36 so that leftovers of a killed
 * writer can be told from those of a live one. Plain string work (no `node:path`, which a browser
 * bundle cannot resolve).
 * @module
 */

/**
 * The folder and name of a path.
 * @param path A file path (`/` separated; `\` too on Windows).
 * @param windows Whether `\` separates too.
 */
export function splitPath(path: string, windows = false): { dir: string; name: string } {
  const cut = Math.max(path.lastIndexOf("/"), windows ? path.lastIndexOf("\\") : -1);
  if (cut < 0) return { dir: ".", name: path };
  return { dir: cut === 0 ? path.slice(0, 1) : path.slice(0, cut), name: path.slice(cut + 1) };
}

/**
 * A fresh temporary path beside `target` (in the same folder, so a rename is atomic).
 * @param target The file the temporary one will replace.
 * @param pid The writer's process id.
 * @param windows Whether `\` separates folders too.
 */
export function tempPathFor(target: string, pid: number, windows = false): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  const tag = `${pid.toString(36)}-${random[0].toString(36)}${random[1].toString(36)}`;
  const { dir, name } = splitPath(target, windows);
  return `${dir}/.${name}.${tag}.tmp`;
}

/**
 * A temporary file's name: group 1 is the writer's pid in base 36, group 2 (`-<random>`) is
 * absent in the older `.<name>.<random>.tmp` form, which carries no pid.
 */
export const TEMP_NAME = /^\..+\.([0-9a-z]+)(-[0-9a-z]+)?\.tmp$/;
