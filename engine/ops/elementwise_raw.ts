/**
 * The elementwise kernel runner without autograd: the expression table (WGSL and float64
 * reference per op), broadcasting over any views, and in-place accumulation. The differentiable
 * ops in `elementwise.ts` and the backward rules of other ops are built on it.
 * @module
 */
import { empty } from "../alloc.ts";
import { broadcastShapes, broadcastStrides, collapseDims, fmtShape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { grid1d, MAX_RANK, Uniforms } from "../../kernels/common.ts";
import {
  accumulateWgsl,
  elementwiseKey,
  elementwiseWgsl,
  type EwMode,
} from "../../kernels/elementwise.ts";
import { forEachStrided } from "./cpu_iter.ts";
import { fill } from "./copy.ts";

/** One elementwise op: its WGSL expression and its float64 reference. */
interface EwDef {
  readonly wgsl: string;
  readonly ref: (a: number, b: number, c: number, s: number) => number;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
function geluRef(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)));
}
function geluGradRef(x: number): number {
  const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
}

/** The expression table (unary ops read `a`; binary `a`,`b`; ternary `a`,`b`,`c`; `s` scalar). */
const EW: Record<string, EwDef> = {
  neg: { wgsl: "-a", ref: (a) => -a },
  exp: { wgsl: "exp(a)", ref: (a) => Math.exp(a) },
  log: { wgsl: "log(a)", ref: (a) => Math.log(a) },
  sqrt: { wgsl: "sqrt(a)", ref: (a) => Math.sqrt(a) },
  relu: { wgsl: "max(a, 0.0)", ref: (a) => Math.max(a, 0) },
  tanh: { wgsl: "tanh_s(a)", ref: (a) => Math.tanh(a) },
  gelu: { wgsl: "gelu(a)", ref: geluRef },
  pows: { wgsl: "pow_s(a, s)", ref: (a, _b, _c, s) => a ** s },
  adds: { wgsl: "a + s", ref: (a, _b, _c, s) => a + s },
  muls: { wgsl: "a * s", ref: (a, _b, _c, s) => a * s },
  add: { wgsl: "a + b", ref: (a, b) => a + b },
  sub: { wgsl: "a - b", ref: (a, b) => a - b },
  mul: { wgsl: "a * b", ref: (a, b) => a * b },
  div: { wgsl: "a / b", ref: (a, b) => a / b },
  maximum: { wgsl: "max(a, b)", ref: (a, b) => Math.max(a, b) },
  minimum: { wgsl: "min(a, b)", ref: (a, b) => Math.min(a, b) },
  gt: { wgsl: "select(0.0, 1.0, a > b)", ref: (a, b) => (a > b ? 1 : 0) },
  ge: { wgsl: "select(0.0, 1.0, a >= b)", ref: (a, b) => (a >= b ? 1 : 0) },
  eq: { wgsl: "select(0.0, 1.0, a == b)", ref: (a, b) => (a === b ? 1 : 0) },
  where: { wgsl: "select(c, b, a != 0.0)", ref: (a, b, c) => (a !== 0 ? b : c) },
  // Backward helpers (not differentiable themselves): a = saved tensor, b = upstream gradient.
  relu_grad: { wgsl: "select(0.0, b, a > 0.0)", ref: (a, b) => (a > 0 ? b : 0) },
  gelu_grad: { wgsl: "b * gelu_grad(a)", ref: (a, b) => b * geluGradRef(a) },
  tanh_grad: { wgsl: "b * (1.0 - a * a)", ref: (a, b) => b * (1 - a * a) },
  pows_grad: { wgsl: "b * s * pow_s(a, s - 1.0)", ref: (a, b, _c, s) => b * s * a ** (s - 1) },
};

/**
 * Runs an elementwise expression without autograd: broadcasting, any views, either backend.
 * @param name Key of the expression table.
 * @param inputs 1–3 float tensors on one backend.
 * @param scalar The uniform scalar `s`.
 * @returns A new contiguous tensor of the broadcast shape.
 */
export function elementwise(name: string, inputs: readonly Tensor[], scalar = 0): Tensor {
  const def = EW[name];
  if (def === undefined) throw new TypeError(`Unknown elementwise op "${name}"`);
  const backend = inputs[0].backend;
  let shape: number[] = [...inputs[0].shape];
  for (const t of inputs) {
    t.assertLive(name);
    if (t.dtype !== "float32") {
      throw new TypeError(
        `${name}() needs float tensors, got ${t.dtype} of shape "${fmtShape(t.shape)}"`,
      );
    }
    if (t.backend !== backend) throw new TypeError(`${name}() got tensors on different backends`);
    shape = broadcastShapes(shape, t.shape);
  }
  const out = empty(shape, "float32", backend);
  const n = sizeOf(shape);
  if (n === 0) return out;
  const strides = inputs.map((t) => broadcastStrides(t.shape, t.strides, shape));
  if (backend.kind === "cpu") {
    const o = out.storage.array!;
    const arrays = inputs.map((t) => t.storage.array!);
    const [ra, rb, rc] = [arrays[0], arrays[1] ?? arrays[0], arrays[2] ?? arrays[0]];
    const f = def.ref;
    forEachStrided(shape, strides, inputs.map((t) => t.offset), (i, offs) => {
      o[i] = f(ra[offs[0]], rb[offs[1] ?? 0], rc[offs[2] ?? 0], scalar);
    });
    return out;
  }
  const flat = inputs.every((t) => t.isContiguous && fmtShape(t.shape) === fmtShape(shape));
  const c = collapseDims(shape, strides);
  if (!flat && c.shape.length > MAX_RANK) {
    throw new RangeError(
      `${name}() of rank ${c.shape.length} exceeds the kernel limit ${MAX_RANK}`,
    );
  }
  const mode: EwMode = !flat
    ? "strided"
    : n % 4 === 0 && inputs.every((t) => t.offset % 4 === 0)
    ? "vec4"
    : "flat";
  const q = mode === "vec4" ? 4 : 1;
  const u = new Uniforms().u32(n / q, c.shape.length).f32(scalar).u32(0).list(c.shape);
  inputs.forEach((t, k) => u.u32(t.offset / q).list(c.strides[k]));
  backend.dispatcher.run({
    key: elementwiseKey(name, inputs.length, mode),
    wgsl: () => elementwiseWgsl(def.wgsl, inputs.length, mode),
    uniforms: u.words,
    inputs: inputs.map((t) => t.binding()),
    outputs: [out.binding()],
    workgroups: grid1d(n / q),
  });
  return out;
}

/**
 * In-place `dst += src` without autograd (gradient accumulation). `dst` must be contiguous;
 * `src` may be any view of the same shape.
 */
export function addInto(dst: Tensor, src: Tensor): void {
  dst.assertLive("accumulate into");
  src.assertLive("accumulate");
  if (fmtShape(dst.shape) !== fmtShape(src.shape)) {
    throw new RangeError(
      `Cannot accumulate "${fmtShape(src.shape)}" into "${fmtShape(dst.shape)}"`,
    );
  }
  if (!dst.isContiguous) throw new RangeError("addInto() needs a contiguous destination");
  const n = dst.size;
  if (n === 0) return;
  const backend = dst.backend;
  if (backend.kind === "cpu") {
    const d = dst.storage.array!;
    const s = src.storage.array!;
    forEachStrided(
      src.shape,
      [src.strides],
      [src.offset],
      (i, o) => (d[dst.offset + i] += s[o[0]]),
    );
    return;
  }
  const source = src.storage.buffer === dst.storage.buffer ? elementwise("adds", [src], 0) : src;
  const c = collapseDims(source.shape, [source.strides]);
  const v = source.isContiguous && n % 4 === 0 && source.offset % 4 === 0 && dst.offset % 4 === 0;
  const q = v ? 4 : 1;
  backend.dispatcher.run({
    key: v ? "accumulate:v4" : "accumulate",
    wgsl: () => accumulateWgsl(v),
    uniforms: new Uniforms().u32(n / q, c.shape.length, dst.offset / q, 0).list(c.shape)
      .u32(source.offset / q).list(c.strides[0]).words,
    inputs: [source.binding()],
    outputs: [dst.binding()],
    workgroups: grid1d(n / q),
  });
  if (source !== src) source.dispose();
}

/** A tensor of ones with `t`'s shape, dtype float and backend. */
export function onesLike(t: Tensor): Tensor {
  const out = empty(t.shape, "float32", t.backend);
  fill(out, 1);
  return out;
}
