/**
 * Reductions over axes: sum, mean, max (forward kernel, backward rule, float64 reference).
 * @module
 */
import { empty } from "../alloc.ts";
import { ADDED, type GradResult, record, usableSink } from "./tape.ts";
import { contiguousStrides, fmtShape, normalizeAxes, type Shape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import {
  REDUCE_CHUNK,
  REDUCE_ROW_MAX,
  reduceColsKey,
  reduceColsWgsl,
  reduceKey,
  type ReduceOp,
  reduceWgsl,
} from "../../kernels/reduce.ts";
import type { GpuBackend } from "../backend.ts";
import { materialize, view } from "./copy.ts";
import { elementwise } from "./elementwise_raw.ts";

/** Options of the reductions. */
export interface ReduceOptions {
  /** Keep reduced dimensions as size 1. */
  keepDims?: boolean;
}

/**
 * Reduces the trailing `len` elements of each row, without autograd.
 * @param axes Axes to reduce.
 * @param scale Multiplier of the result (1/count for a mean).
 * @returns The reduced tensor with kept dimensions removed.
 */
export function reduceRaw(x: Tensor, axes: readonly number[], op: ReduceOp, scale = 1): Tensor {
  x.assertLive(op);
  if (x.dtype !== "float32") throw new TypeError(`${op}() needs a float tensor, got ${x.dtype}`);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  if (x.backend.kind === "webgpu" && isLeadingContiguous(x, axes)) {
    return reduceColumns(x, axes, kept, op, scale);
  }
  const perm = [...kept, ...axes];
  const outShape = kept.map((i) => x.shape[i]);
  const rows = sizeOf(outShape);
  const len = sizeOf(axes.map((i) => x.shape[i]));
  if (op === "max" && len === 0) {
    throw new RangeError(`max() over an empty axis of "${fmtShape(x.shape)}"`);
  }
  const permuted = view(x, perm.map((i) => x.shape[i]), perm.map((i) => x.strides[i]), x.offset);
  const src = materialize(permuted);
  const out = empty(outShape, "float32", x.backend);
  const backend = x.backend;
  if (backend.kind === "cpu") {
    const v = src.storage.array!;
    const o = out.storage.array!;
    for (let r = 0; r < rows; r++) {
      let acc = op === "sum" ? 0 : -Infinity;
      for (let j = 0; j < len; j++) {
        const e = v[r * len + j];
        acc = op === "sum" ? acc + e : Math.max(acc, e);
      }
      o[r] = acc * scale;
    }
  } else if (rows > 0) {
    gpuReduce(src, out, rows, len, op, scale);
  }
  if (src !== permuted) src.dispose();
  permuted.dispose();
  return out;
}

// Reducing leading axes of a contiguous tensor (a bias gradient): read columns in place
// instead of transposing first.
function isLeadingContiguous(x: Tensor, axes: readonly number[]): boolean {
  if (!x.isContiguous || axes.length === 0 || axes.length === x.rank) return false;
  if (!axes.every((a, i) => a === i)) return false;
  const len = sizeOf(axes.map((i) => x.shape[i]));
  return len <= REDUCE_ROW_MAX && len > 1;
}

function reduceColumns(
  x: Tensor,
  axes: readonly number[],
  kept: readonly number[],
  op: ReduceOp,
  scale: number,
  into: Tensor | null = null,
  accumulate = into !== null,
): Tensor {
  const outShape = kept.map((i) => x.shape[i]);
  const cols = sizeOf(outShape);
  const len = sizeOf(axes.map((i) => x.shape[i]));
  const out = into ?? empty(outShape, "float32", x.backend);
  const backend = x.backend as GpuBackend;
  const vec4 = cols % 4 === 0 && x.offset % 4 === 0 && out.offset % 4 === 0;
  const q = vec4 ? 4 : 1;
  // On a CPU adapter a workgroup is one thread: small groups spread the columns over the cores.
  const c = { vec4, accumulate, wg: backend.isFallbackAdapter ? 8 : 64 };
  backend.dispatcher.run({
    key: reduceColsKey(op, c),
    wgsl: () => reduceColsWgsl(op, c),
    uniforms: new Uniforms().u32(cols / q, len, x.offset / q).f32(scale).u32(out.offset / q).words,
    inputs: [x.binding()],
    outputs: [out.binding()],
    workgroups: grid1d(cols / q, c.wg),
  });
  return out;
}

// Short rows: one invocation per row. Long rows: chunked workgroup partials, then a second
// reduction over the partials when a row needs more than one chunk.
function gpuReduce(
  src: Tensor,
  out: Tensor,
  rows: number,
  len: number,
  op: ReduceOp,
  scale: number,
): void {
  const d = (src.backend as GpuBackend).dispatcher;
  const tree = len > REDUCE_ROW_MAX || (len >= 512 && rows < 4096);
  if (!tree) {
    d.run({
      key: reduceKey(op, false),
      wgsl: () => reduceWgsl(op, false),
      uniforms: new Uniforms().u32(rows, len, src.offset).f32(scale).words,
      inputs: [src.binding()],
      outputs: [out.binding()],
      workgroups: grid1d(rows),
    });
    return;
  }
  const chunks = Math.ceil(len / REDUCE_CHUNK);
  const partial = chunks === 1 ? out : empty([rows, chunks], "float32", src.backend);
  d.run({
    key: reduceKey(op, true),
    wgsl: () => reduceWgsl(op, true),
    uniforms: new Uniforms().u32(rows, len, src.offset).f32(chunks === 1 ? scale : 1)
      .u32(Math.min(len, REDUCE_CHUNK), chunks).words,
    inputs: [src.binding()],
    outputs: [partial.binding()],
    workgroups: grid1d(rows * chunks, 1),
  });
  if (partial !== out) {
    gpuReduce(partial, out, rows, chunks, op, scale);
    partial.dispose();
  }
}

function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((n, i) => (axes.includes(i) ? 1 : n));
}

function withKeep(r: Tensor, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
  if (!keepDims) return r;
  return reshapeRaw(r, keptShape(x.shape, axes));
}

// A contiguous tensor viewed with another shape of the same size (no autograd).
function reshapeRaw(r: Tensor, shape: Shape): Tensor {
  const out = view(r, shape, contiguousStrides(shape), r.offset);
  r.dispose();
  return out;
}

// Broadcasts a reduced gradient back over the reduced axes (a stride-0 view).
function spread(g: Tensor, x: Tensor, axes: readonly number[]): Tensor {
  const shape = keptShape(x.shape, axes);
  const strides = new Array<number>(shape.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (!axes.includes(i)) {
      strides[i] = s;
      s *= shape[i];
    }
  }
  const c = materialize(g);
  const out = view(c, x.shape, strides, c.offset);
  if (c !== g) c.dispose();
  return out;
}

/**
 * Sum over axes (all by default).
 * @param axes Axis or axes (negative counts from the end).
 */
export function sum(
  x: Tensor,
  axes?: number | readonly number[],
  options: ReduceOptions = {},
): Tensor {
  const ax = normalizeAxes(axes, x.rank);
  const out = withKeep(reduceRaw(x, ax, "sum"), x, ax, options.keepDims ?? false);
  return record(out, "sum", [x], (g) => [spread(g, x, ax)]);
}

/** Mean over axes (all by default). */
export function mean(
  x: Tensor,
  axes?: number | readonly number[],
  options: ReduceOptions = {},
): Tensor {
  const ax = normalizeAxes(axes, x.rank);
  const count = sizeOf(ax.map((i) => x.shape[i]));
  const out = withKeep(reduceRaw(x, ax, "sum", 1 / count), x, ax, options.keepDims ?? false);
  return record(out, "mean", [x], (g) => {
    const s = spread(g, x, ax);
    const r = elementwise("muls", [s], 1 / count);
    s.dispose();
    return [r];
  });
}

/** Maximum over axes (all by default). The gradient flows to every maximal element. */
export function max(
  x: Tensor,
  axes?: number | readonly number[],
  options: ReduceOptions = {},
): Tensor {
  const ax = normalizeAxes(axes, x.rank);
  const out = withKeep(reduceRaw(x, ax, "max"), x, ax, options.keepDims ?? false);
  return record(out, "max", [x], (g) => {
    const m = spread(out, x, ax);
    const mask = elementwise("eq", [x, m]);
    const s = spread(g, x, ax);
    const r = elementwise("mul", [s, mask]);
    for (const t of [m, mask, s]) t.dispose();
    return [r];
  });
}

/**
 * The sum of a broadcast gradient down to `shape`, added into `sink` when one is given and the
 * reduction can write it in place (leading axes of a contiguous gradient, or the CPU), else
 * returned as a new tensor. No autograd: for backward rules.
 * @param g Gradient of the broadcast shape.
 * @param shape Shape it was broadcast from.
 * @param sink Gradient sink of the broadcast input, or null.
 * @returns {@linkcode ADDED} or the reduced gradient.
 */
export function sumToSink(g: Tensor, shape: Shape, sink: Tensor | null): GradResult {
  const dst = usableSink(sink);
  const axes = sumAxes(g, shape);
  if (dst !== null && axes.length > 0) {
    if (g.backend.kind === "webgpu" && isLeadingContiguous(g, axes)) {
      const kept = g.shape.map((_, i) => i).filter((i) => !axes.includes(i));
      reduceColumns(g, axes, kept, "sum", 1, dst);
      return ADDED;
    }
    if (g.backend.kind === "cpu") {
      const r = reduceRaw(g, axes, "sum");
      const d = dst.storage.array!;
      const v = r.storage.array!;
      for (let i = 0; i < r.size; i++) d[dst.offset + i] += v[i];
      r.dispose();
      return ADDED;
    }
  }
  return sumTo(g, shape);
}

/**
 * `into (+)= Σ_i x[i, :]` for a contiguous WebGPU `x` `[L, C]` and a contiguous `into` of `C`
 * elements, one column-reduction launch, no autograd (`L` at most {@linkcode REDUCE_ROW_MAX}).
 * @param accumulate Add to `into` instead of overwriting it.
 */
export function sumLeadingInto(x: Tensor, into: Tensor, accumulate: boolean): void {
  if (!x.isContiguous || x.rank !== 2 || !into.isContiguous || into.size !== x.shape[1]) {
    throw new RangeError(
      `sumLeadingInto() needs contiguous "[L,C]" and "C": got "${fmtShape(x.shape)}", "${
        fmtShape(into.shape)
      }"`,
    );
  }
  if (x.shape[0] > REDUCE_ROW_MAX) {
    throw new RangeError(`Cannot sum ${x.shape[0]} rows in one pass`);
  }
  reduceColumns(x, [0], [1], "sum", 1, into, accumulate);
}

// The axes of `g` that summing down to `shape` removes or collapses.
function sumAxes(g: Tensor, shape: Shape): number[] {
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  return axes;
}

/**
 * Sums a broadcast tensor down to `shape` (the gradient of broadcasting).
 * @param g Tensor of the broadcast shape.
 * @param shape Target shape it was broadcast from.
 * @returns A tensor of `shape`.
 */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  const axes = sumAxes(g, shape);
  const out = reshapeRaw(reduceRaw(g, axes, "sum"), shape);
  return record(out, "sumTo", [g], (gg) => [spread(gg, g, axes)]);
}
export type { ReduceOp } from "../../kernels/reduce.ts";
