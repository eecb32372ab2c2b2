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
  // Through a let: Chromium's WGSL compiler rejects a NaN as a constant expression.
  let nan_bits = 0x7fc00000u;
  if (x < 0.0) { return bitcast<f32>(nan_bits); }
  return r;
}
`;

/** Layout of an elementwise kernel's inputs. */
export type EwMode = "flat" | "vec4" | "strided";

/**
 * Cache key of an elementwise kernel.
 * @param name Op name (distinct per expression).
 * @param mode `flat` (contiguous), `vec4` (contiguous, 4 elements per invocation) or `strided`.
 */
export function elementwiseKey(name: string, arity: number, mode: EwMode): string {
  return `ew:${name}:${arity}:${mode === "strided" ? "s" : mode === "vec4" ? "v4" : "f"}`;
}

/**
 * WGSL of an elementwise kernel writing `out[i] = expr`. In `vec4` mode every invocation loads
 * one `vec4` per input (sizes and offsets in uniforms count vec4s) and evaluates the scalar
 * expression per component: on llvmpipe a load costs the same per lane whatever its width, so
 * this quarters the loads.
 * @param expr Expression over `a`, `b`, `c`, `s`.
 * @param arity Number of inputs (1–3).
 * @param mode Input layout (strided reads broadcast with stride 0).
 */
export function elementwiseWgsl(expr: string, arity: number, mode: EwMode): string {
  const names = ["a", "b", "c"].slice(0, arity);
  const type = mode === "vec4" ? "vec4<f32>" : "f32";
  const inputs = names.map((n) => ({ name: `in_${n}`, type }));
  const loads = names.map((n, k) => {
    const base = EW_LAYOUT.input(k);
    const index = mode === "strided"
      ? `soff(gi, rank, ${EW_LAYOUT.shape}u, ${base + 1}u, pu(${base}u))`
      : `pu(${base}u) + gi`;
    return `  let ${n} = in_${n}[${index}];`;
  });
  const args = (cc: string): string =>
    ["a", "b", "c"].map((n) => (names.includes(n) ? `${n}.${cc}` : "0.0")).join(", ");
  const body = mode === "vec4"
    ? `  out[gi] = vec4<f32>(${["x", "y", "z", "w"].map((cc) => `op(${args(cc)}, s)`).join(", ")});`
    : `  out[gi] = ${expr};`;
  return `${PARAMS_WGSL}
${mode === "strided" ? STRIDED_WGSL : ""}
${MATH_WGSL}
${mode === "vec4" ? `fn op(a: f32, b: f32, c: f32, s: f32) -> f32 { return ${expr}; }` : ""}
${bindingsWgsl(inputs, [{ name: "out", type }])}
${MAIN_1D}
  let n = pu(0u);
  if (gi >= n) { return; }
  let rank = pu(1u);
  let s = pf(2u);
${loads.join("\n")}
${body}
}`;
}

/**
 * WGSL of the in-place accumulation `dst[off + i] += src[strided i]` (gradient accumulation).
 * Uniforms: 0 n, 1 rank, 2 dst offset, 4..9 shape, 10 src offset, 11..16 src strides.
 * @param vec4 Both sides contiguous: add one `vec4` per invocation (n and offsets in vec4s).
 */
export function accumulateWgsl(vec4 = false): string {
  const type = vec4 ? "vec4<f32>" : "f32";
  const src = vec4 ? "src[pu(10u) + gi]" : "src[soff(gi, pu(1u), 4u, 11u, pu(10u))]";
  return `${PARAMS_WGSL}
${vec4 ? "" : STRIDED_WGSL}
${bindingsWgsl([{ name: "src", type }], [{ name: "dst", type }])}
${MAIN_1D}
  let n = pu(0u);
  if (gi >= n) { return; }
  let o = pu(2u) + gi;
  dst[o] = dst[o] + ${src};
}`;
}
