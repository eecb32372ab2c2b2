/**
 * Creating tensors: from values, constants, seeded random numbers, ranges.
 * @module
 */
import { empty, upload } from "../alloc.ts";
import { type Backend, getBackend } from "../backend.ts";
import { type Shape, sizeOf } from "../shape.ts";
import type { DType, Tensor } from "../tensor.ts";
import { fill } from "./copy.ts";

/** Where and how to create a tensor. */
export interface CreateOptions {
  /** Element type (default float32). */
  dtype?: DType;
  /** Backend (default: the current one). */
  backend?: Backend;
  /** Mark as a leaf that accumulates gradients. */
  requiresGrad?: boolean;
}

/**
 * A tensor from values. Nested arrays give their own shape; flat values need `shape`.
 * @param values Numbers (flat or nested) or a typed array.
 * @param shape Shape for flat values (default: a vector).
 * @example A 2×2 matrix
 * ```ts ignore
 * const a = tensor([[1, 2], [3, 4]]);
 * ```
 */
export function tensor(
  values: ArrayLike<number> | number | NestedArray,
  shape?: Shape,
  options: CreateOptions = {},
): Tensor {
  let flat: ArrayLike<number>;
  let s: Shape;
  if (typeof values === "number") {
    flat = [values];
    s = shape ?? [];
  } else if (Array.isArray(values) && values.some((v) => Array.isArray(v))) {
    const inferred: number[] = [];
    let level: unknown = values;
    while (Array.isArray(level)) {
      inferred.push(level.length);
      level = level[0];
    }
    flat = flatten(values as NestedArray[]);
    s = shape ?? inferred;
  } else {
    flat = values as ArrayLike<number>;
    s = shape ?? [flat.length];
  }
  const t = upload(flat, s, options.dtype ?? "float32", options.backend ?? getBackend());
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

/** Nested number arrays accepted by {@linkcode tensor}. */
export type NestedArray = number | NestedArray[];

/** A tensor filled with one value. */
export function full(shape: Shape, value: number, options: CreateOptions = {}): Tensor {
  const t = empty(shape, options.dtype ?? "float32", options.backend ?? getBackend());
  fill(t, value);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

/** Zeros. */
export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 0, options);
}

/** Ones. */
export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

/**
 * A seeded pseudo-random generator (SplitMix32); identical streams on every backend.
 * @returns A function returning uniform numbers in [0, 1).
 */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/** Options of the random constructors. */
export interface RandomOptions extends CreateOptions {
  /** Seed (default 0). */
  seed?: number;
  /** Standard deviation (randn) or half-width (rand, centred at 0 when `symmetric`). */
  scale?: number;
}

/** Normal samples N(0, scale²), seeded. */
export function randn(shape: Shape, options: RandomOptions = {}): Tensor {
  const next = rng(options.seed ?? 0);
  const scale = options.scale ?? 1;
  const n = sizeOf(shape);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = Math.max(next(), 1e-300);
    const u2 = next();
    const r = Math.sqrt(-2 * Math.log(u1)) * scale;
    v[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) v[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return tensor(v, shape, options);
}

/** Uniform samples in [-scale, scale), seeded. */
export function rand(shape: Shape, options: RandomOptions = {}): Tensor {
  const next = rng(options.seed ?? 0);
  const scale = options.scale ?? 1;
  const v = Float64Array.from({ length: sizeOf(shape) }, () => (2 * next() - 1) * scale);
  return tensor(v, shape, options);
}

/**
 * A copy of `t` on another backend (float32 ↔ float64 conversion included).
 * @param backend Destination backend.
 * @returns The copy (a leaf, no gradient).
 */
export async function toBackend(t: Tensor, backend: Backend): Promise<Tensor> {
  const values = await t.toArray();
  return upload(values, t.shape, t.dtype, backend);
}

function flatten(values: NestedArray[]): number[] {
  const out: number[] = [];
  const walk = (v: NestedArray): void => {
    if (Array.isArray(v)) { for (const x of v) walk(x); }
    else out.push(v);
  };
  walk(values);
  return out;
}
