/**
 * Parameter initialisers: seeded, deterministic values derived from a seed and a parameter
 * name, identical on every backend (generated in float64 on the host).
 * @module
 */
import { rng } from "../ops/creation.ts";

/** How a parameter's initial values are drawn. */
export type ParamInit =
  | { readonly kind: "normal"; readonly std: number }
  | { readonly kind: "uniform"; readonly bound: number }
  | { readonly kind: "constant"; readonly value: number };

/** GPT-2's default weight initialisation, N(0, 0.02²). */
export const GPT2_STD = 0.02;

/** A normal initialiser. */
export function normalInit(std: number = GPT2_STD): ParamInit {
  return { kind: "normal", std };
}

/** A constant initialiser (zeros for biases, ones for norm gains). */
export function constantInit(value: number): ParamInit {
  return { kind: "constant", value };
}

/**
 * Mixes a seed with a name (FNV-1a over UTF-16 code units), so each parameter draws its own
 * stream no matter in which order parameters are created.
 * @returns A 32-bit seed.
 */
export function nameSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ h) >>> 0;
}

/**
 * Draws initial values.
 * @param seed 32-bit seed (see {@linkcode nameSeed}).
 * @returns Float64 values.
 */
export function initValues(init: ParamInit, size: number, seed: number): Float64Array {
  const out = new Float64Array(size);
  if (init.kind === "constant") return out.fill(init.value);
  const next = rng(seed);
  if (init.kind === "uniform") {
    for (let i = 0; i < size; i++) out[i] = (2 * next() - 1) * init.bound;
    return out;
  }
  // Box–Muller, two samples per pair of uniforms.
  for (let i = 0; i < size; i += 2) {
    const r = Math.sqrt(-2 * Math.log(Math.max(next(), 1e-300))) * init.std;
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < size) out[i + 1] = r * Math.sin(a);
  }
  return out;
}
