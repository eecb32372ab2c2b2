/**
 * Deterministic scatter-add of rows, the backward of `gather` and `embedding` (no autograd).
 * @module
 */
import { empty } from "../alloc.ts";
import type { GpuBackend } from "../backend.ts";
import { fmtShape, type Shape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import { gridRows, maxLaunchRows, rowsLayout } from "../../kernels/gather.ts";
import {
  SEGMENT_BLOCK,
  segmentsKey,
  segmentsWgsl,
  zeroKey,
  zeroWgsl,
} from "../../kernels/scatter.ts";
import { SORT_BLOCK, sortGlobalWgsl, sortLocalWgsl } from "../../kernels/sort.ts";
import { cpuValues } from "./cpu_iter.ts";
import { assertIndexTensor, assertIndicesInRange, contiguousView } from "./indices.ts";
import { rowWindows, wholeBinding } from "./windows.ts";

/**
 * `out[o, v, :] = Σ g[o, j, :]` over the positions `j` with `ids[j] = v`, where `out` has
 * `shape` viewed as `[outer, A, inner]` around `axis` and `g` holds `[outer, n, inner]` elements
 * (n = `ids.size`). Results are bit-for-bit reproducible on WebGPU (sums run in ascending `j`).
 * Indices outside `[0, A)` throw on the CPU backend and are skipped on WebGPU.
 * @param g Source rows (any view; row-major order is what counts).
 * @param ids int32 indices (any shape; flattened).
 * @param shape Shape of the result.
 * @param axis Axis of `shape` that the indices address.
 * @param op Op name, for messages.
 * @returns A new contiguous float tensor of `shape`.
 */
export function scatterAddRows(
  g: Tensor,
  ids: Tensor,
  shape: Shape,
  axis: number,
  op = "scatterAdd",
): Tensor {
  return scatter(g, ids, shape, axis, op, null)!;
}

/**
 * {@linkcode scatterAddRows} added into an existing tensor (a gradient sink) instead of a new
 * zeroed one: the clear launch is skipped.
 * @param into Contiguous float destination; its shape is the result shape.
 */
export function scatterAddRowsInto(
  g: Tensor,
  ids: Tensor,
  into: Tensor,
  axis: number,
  op = "scatterAdd",
): void {
  if (!into.isContiguous || into.dtype !== "float32") {
    throw new RangeError(
      `${op}() cannot add rows into a strided or int32 "${fmtShape(into.shape)}"`,
    );
  }
  scatter(g, ids, into.shape, axis, op, into);
}

function scatter(
  g: Tensor,
  ids: Tensor,
  shape: Shape,
  axis: number,
  op: string,
  into: Tensor | null,
): Tensor | null {
  g.assertLive(op);
  assertIndexTensor(ids, op, "indices");
  const outer = sizeOf(shape.slice(0, axis));
  const a = shape[axis];
  const inner = sizeOf(shape.slice(axis + 1));
  const n = ids.size;
  if (g.size !== outer * n * inner) {
    throw new RangeError(
      `${op}() got rows "${fmtShape(g.shape)}" for ${n} indices into "${
        fmtShape(shape)
      }" along axis ${axis}`,
    );
  }
  const backend = g.backend;
  if (ids.backend !== backend) throw new TypeError(`${op}() got tensors on different backends`);
  assertIndicesInRange(ids, a, op, "indices", `axis ${axis} of "${fmtShape(shape)}"`);
  const out = into ?? empty(shape, "float32", backend);
  const done = into === null ? out : null;
  if (out.size === 0) return done;
  if (backend.kind === "cpu") {
    const gv = cpuValues(g);
    const iv = cpuValues(ids);
    const o = out.storage.array!;
    for (let b = 0; b < outer; b++) {
      for (let j = 0; j < n; j++) {
        const dst = out.offset + (b * a + iv[j]) * inner;
        const src = (b * n + j) * inner;
        for (let c = 0; c < inner; c++) o[dst + c] += gv[src + c];
      }
    }
    return done;
  }
  const gc = contiguousView(g);
  const ic = contiguousView(ids);
  const keys = sortIndices(ic, a, backend);
  const vec4 = inner % 4 === 0 && gc.offset % 4 === 0 && out.offset % 4 === 0;
  const w = vec4 ? 4 : 1;
  const cols = inner / w;
  const layout = rowsLayout(cols);
  const gBinding = wholeBinding(gc, op);
  const d = backend.dispatcher;
  // The destination may exceed one binding: clear and fill it one window of rows at a time.
  for (const win of rowWindows(out, outer * a, inner, inner)) {
    const count = ((win.r1 - win.r0) * inner) / w;
    if (into === null) {
      d.run({
        key: zeroKey(vec4),
        wgsl: () => zeroWgsl(vec4),
        uniforms: new Uniforms().u32(count, win.base / w).words,
        inputs: [],
        outputs: [win.binding],
        workgroups: grid1d(count),
      });
    }
    for (let b0 = 0; b0 < n; b0 += SEGMENT_BLOCK) {
      const len = Math.min(SEGMENT_BLOCK, n - b0);
      const step = maxLaunchRows(layout);
      for (let y0 = 0; y0 < outer * len; y0 += step) {
        const rows = Math.min(step, outer * len - y0);
        d.run({
          key: segmentsKey(vec4, layout),
          wgsl: () => segmentsWgsl(vec4, layout),
          uniforms: new Uniforms()
            .u32(cols, n, a, b0, b0 + len, len, rows, gc.offset / w, win.r0, win.r1, win.base / w)
            .u32(y0).words,
          inputs: [gBinding, keys.binding()],
          outputs: [win.binding],
          workgroups: gridRows(cols, rows, layout),
        });
      }
    }
  }
  keys.dispose();
  if (gc !== g) gc.dispose();
  if (ic !== ids) ic.dispose();
  return done;
}

// The bitonic sort of kernels/sort.ts over P = max(512, 2^⌈log2 n⌉) keys `(id, position)`.
function sortIndices(ids: Tensor, a: number, backend: GpuBackend): Tensor {
  const n = ids.size;
  let p = SORT_BLOCK;
  while (p < n) p *= 2;
  const blocks = p / SORT_BLOCK;
  const keys = empty([p, 2], "int32", backend);
  const d = backend.dispatcher;
  const local = (init: boolean, k0: number, k1: number): void =>
    d.run({
      key: "sort:local",
      wgsl: sortLocalWgsl,
      uniforms: new Uniforms().u32(n, a, ids.offset, init ? 1 : 0, k0, k1, blocks).words,
      inputs: [ids.binding()],
      outputs: [keys.binding()],
      workgroups: grid1d(blocks, 1),
    });
  local(true, 2, SORT_BLOCK);
  for (let k = 2 * SORT_BLOCK; k <= p; k *= 2) {
    for (let j = k / 2; j >= SORT_BLOCK; j /= 2) {
      d.run({
        key: "sort:global",
        wgsl: sortGlobalWgsl,
        uniforms: new Uniforms().u32(p / 2, j, k).words,
        inputs: [],
        outputs: [keys.binding()],
        workgroups: grid1d(p / 2),
      });
    }
    local(false, k, k);
  }
  return keys;
}
