/**
 * Error message helpers shared by the safetensors reader and writer (internal).
 * @module
 */

/** Formats a failure as `source: where: message`, the shape every reader error uses. */
export function formatError(source: string, where: string | undefined, message: string): string {
  return where === undefined ? `${source}: ${message}` : `${source}: ${where}: ${message}`;
}

/** Quotes a name the way error messages show it. */
export function quote(name: string): string {
  return JSON.stringify(name);
}
