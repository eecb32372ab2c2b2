/**
 * Explicit memory scopes: tensors created inside {@linkcode tidy} are disposed when it returns,
 * except the ones it returns or {@linkcode keep}s.
 * @module
 */

/** Anything a scope can dispose. */
export interface Disposable {
  /** Releases the storage reference. */
  dispose(): void;
}

const scopes: Set<Disposable>[] = [];

/** Registers a new tensor with the innermost scope. */
export function track(t: Disposable): void {
  scopes.at(-1)?.add(t);
}

/** Removes a tensor from every open scope so that it outlives them. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/**
 * Runs `fn` and disposes every tensor it created, except those in its result (tensors, arrays,
 * maps and plain objects are searched) and those passed to {@linkcode keep}.
 * @param fn Synchronous work.
 * @returns What `fn` returned; its tensors move to the enclosing scope.
 * @example Flat memory in a loop
 * ```ts ignore
 * for (let i = 0; i < 1000; i++) tidy(() => step());
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const kept = new Set<Disposable>();
  collect(result, kept, 0);
  for (const t of scope) if (!kept.has(t)) t.dispose();
  const parent = scopes.at(-1);
  if (parent) { for (const t of kept) if (scope.has(t)) parent.add(t); }
  return result;
}

function collect(value: unknown, out: Set<Disposable>, depth: number): void {
  if (value === null || typeof value !== "object" || depth > 4) return;
  if (
    "dispose" in value && typeof (value as Disposable).dispose === "function" && "shape" in value
  ) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) { for (const v of value) collect(v, out, depth + 1); }
  else if (value instanceof Map) { for (const v of value.values()) collect(v, out, depth + 1); }
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}
