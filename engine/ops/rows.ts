/**
 * Helpers of the last-axis row ops (softmax, cross-entropy, layer norm): shape checks, a
 * contiguous source, and the launch of a row kernel.
 * @module
 */
import type { GpuBackend } from "../backend.ts";
import { fmtShape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { type RowPlan, rowPlan, rowWorkgroups } from "../../kernels/rows.ts";
import { Uniforms } from "../../kernels/common.ts";
import { materialize } from "./copy.ts";

/** A tensor seen as `[rows, len]` over its last axis. */
export interface RowShape {
  /** Product of the leading dimensions. */
  readonly rows: number;
  /** The last dimension. */
  readonly len: number;
}

/**
 * Checks that `x` is a live float tensor of rank ≥ 1 and splits its shape into rows.
 * @param op Op name for messages.
 * @returns Rows and row length.
 */
export function floatRows(x: Tensor, op: string): RowShape {
  x.assertLive(op);
  if (x.dtype !== "float32") {
    throw new TypeError(
      `${op}() needs a float tensor, got ${x.dtype} of shape "${fmtShape(x.shape)}"`,
    );
  }
  if (x.rank === 0) throw new RangeError(`${op}() needs at least one dimension, got a scalar`);
  const len = x.shape[x.rank - 1];
  return { rows: sizeOf(x.shape.slice(0, -1)), len };
}

/**
 * `t` itself when its elements are row-major without gaps (any offset), else a contiguous copy.
 * Dispose the result only when it is not `t`.
 * @param t Any view.
 * @returns A contiguous tensor.
 */
export function dense(t: Tensor): Tensor {
  return t.isContiguous ? t : materialize(t);
}

/**
 * Disposes temporaries made by {@linkcode dense}.
 * @param pairs `[original, dense]` pairs.
 */
export function releaseDense(...pairs: [Tensor, Tensor][]): void {
  for (const [t, d] of pairs) if (d !== t) d.dispose();
}

/** One row-kernel launch. */
export interface RowLaunch {
  /** Pipeline key without the plan suffix. */
  key: (plan: RowPlan) => string;
  /** WGSL for a plan. */
  wgsl: (plan: RowPlan) => string;
  /** Uniform words from word 2 on (rows and len come first). */
  extra: readonly number[];
  /** Inputs (whole storages; kernels add offsets). */
  inputs: readonly Tensor[];
  /** Outputs. */
  outputs: readonly Tensor[];
  /** How many times the kernel walks a row (see `rowPlan`). */
  passes: number;
  /**
   * For kernels with a `vec4` form: the element offsets of their row-wise bindings; `vec4` is
   * used when all of them (and the row length) are multiples of 4.
   */
  vec4Offsets?: readonly number[];
}

/**
 * Records a row kernel over `[rows, len]` with the variant {@linkcode rowPlan} picks.
 * @param shape Rows and row length.
 */
export function runRows(backend: GpuBackend, shape: RowShape, launch: RowLaunch): void {
  if (shape.rows === 0) return;
  const offsets = launch.vec4Offsets;
  const plan = rowPlan(shape.rows, shape.len, {
    software: backend.isFallbackAdapter,
    vec4: offsets !== undefined && offsets.every((o) => o % 4 === 0),
    passes: launch.passes,
  });
  backend.dispatcher.run({
    key: launch.key(plan),
    wgsl: () => launch.wgsl(plan),
    uniforms: new Uniforms().u32(shape.rows, shape.len).u32(...launch.extra).words,
    inputs: launch.inputs.map((t) => t.binding()),
    outputs: launch.outputs.map((t) => t.binding()),
    workgroups: rowWorkgroups(plan, shape.rows),
  });
}
