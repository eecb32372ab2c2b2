/**
 * Elementwise kernels over 1–3 inputs: a flat variant for contiguous same-shape operands and a
 * strided variant that reads any view with broadcasting. The op is a WGSL expression in `a`, `b`,
 * `c` and the uniform scalar `s`.
 * @module
 */
import { bindingsWgsl, MAIN_1D, PARAMS_WGSL, STRIDED_WGSL } from "./common.ts";

/**
 * Uniform layout (word indices): 0 n, 1 rank, 2 scalar (f32), 3 unused, 4..9 shape, then per
 * input k: offset at 10 + 7k and strides at 11 + 7k .. 16 + 7k.
 */
export const EW_LAYOUT: { readonly shape: number; readonly input: (k: number) => number } = {
  shape: 4,
  input: (k: number): number => 10 + 7 * k,
};

/** WGSL helpers available to every elementwise expression. */
export const MATH_WGSL = `
fn tanh_s(x: f32) -> f32 {
  // exp overflows past |x| ~ 44; tanh is exactly +-1 in f32 well before that.
  let y = clamp(x, -15.0, 15.0);
  let e = exp(2.0 * y);
  return (e - 1.0) / (e + 1.0);
}
fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + tanh_s(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}
fn gelu_grad(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  let t = tanh_s(u);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.7978845608028654 * (1.0 + 0.134145 * x * x);
}
fn pow_s(x: f32, p: f32) -> f32 {
  if (p == 1.0) { return x; }
  if (p == 2.0) { return x * x; }
  let r = pow(abs(x), p);
  if (x < 0.0 && fract(p) == 0.0) {
    if (fract(p * 0.5) != 0.0) { return -r; }
    return r;
  }
  if (x < 0.0) { return bitcast<f32>(0x7fc00000u); }
  return r;
}
`;

/**
 * Cache key of an elementwise kernel.
 * @param name Op name (distinct per expression).
 * @param arity Number of inputs.
 * @param strided Strided variant.
 * @returns The key.
 */
export function elementwiseKey(name: string, arity: number, strided: boolean): string {
  return `ew:${name}:${arity}:${strided ? "s" : "f"}`;
}

/**
 * WGSL of an elementwise kernel writing `out[i] = expr`.
 * @param expr Expression over `a`, `b`, `c`, `s`.
 * @param arity Number of inputs (1–3).
 * @param strided Read inputs through their strides (broadcast = stride 0).
 * @returns WGSL source.
 */
export function elementwiseWgsl(expr: string, arity: number, strided: boolean): string {
  const names = ["a", "b", "c"].slice(0, arity);
  const inputs = names.map((n) => ({ name: `in_${n}`, type: "f32" }));
  const loads = names.map((n, k) => {
    const base = EW_LAYOUT.input(k);
    const index = strided
      ? `soff(gi, rank, ${EW_LAYOUT.shape}u, ${base + 1}u, pu(${base}u))`
      : `pu(${base}u) + gi`;
    return `  let ${n} = in_${n}[${index}];`;
  });
  return `${PARAMS_WGSL}
${strided ? STRIDED_WGSL : ""}
${MATH_WGSL}
${bindingsWgsl(inputs, [{ name: "out", type: "f32" }])}
${MAIN_1D}
  let n = pu(0u);
  if (gi >= n) { return; }
  let rank = pu(1u);
  let s = pf(2u);
${loads.join("\n")}
  out[gi] = ${expr};
}`;
}

/**
 * WGSL of the in-place accumulation `dst[off + i] += src[strided i]` (gradient accumulation).
 * Uniforms: 0 n, 1 rank, 2 dst offset, 4..9 shape, 10 src offset, 11..16 src strides.
 * @returns WGSL source.
 */
export function accumulateWgsl(): string {
  return `${PARAMS_WGSL}
${STRIDED_WGSL}
${bindingsWgsl([{ name: "src", type: "f32" }], [{ name: "dst", type: "f32" }])}
${MAIN_1D}
  let n = pu(0u);
  if (gi >= n) { return; }
  let o = pu(2u) + gi;
  dst[o] = dst[o] + src[soff(gi, pu(1u), 4u, 11u, pu(10u))];
}`;
}
