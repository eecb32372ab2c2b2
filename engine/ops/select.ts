/**
 * Per-row picks for metrics and losses: `selectAt` (one element per row, with a one-hot
 * gradient), `argmax` (int32, no gradient) and `indexEqual` (int32 comparison as a float mask),
 * all computed on the device so only final scalars need to be read back.
 * @module
 */
import { empty } from "../alloc.ts";
import { record } from "./tape.ts";
import { fmtShape, normalizeAxes } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { grid1d, Uniforms } from "../../kernels/common.ts";
import { gridRows, maxLaunchRows, rowsLayout } from "../../kernels/gather.ts";
import {
  argmaxKey,
  argmaxWgsl,
  indexEqualKey,
  indexEqualWgsl,
  selectAtGradKey,
  selectAtGradWgsl,
  selectAtWgsl,
} from "../../kernels/select.ts";
import { view } from "./copy.ts";
import { cpuValues, forEachStrided } from "./cpu_iter.ts";
import { assertIndexTensor, assertIndicesInRange, contiguousView } from "./indices.ts";
import { rowWindows, wholeBinding } from "./windows.ts";

/**
 * Picks one element per row: `out[i] = x[i, idx[i]]`. The gradient is `g[i]` at `(i, idx[i])`
 * and zero elsewhere. Indices outside `[0, V)` throw on the CPU backend; on WebGPU they give 0
 * and no gradient.
 * @param x Float `[N, V]` (any view).
 * @param idx int32 `[N]` (any view).
 * @returns `[N]`.
 */
export function selectAt(x: Tensor, idx: Tensor): Tensor {
  x.assertLive("selectAt");
  assertIndexTensor(idx, "selectAt", "indices");
  if (x.dtype !== "float32" || x.rank !== 2) {
    throw new TypeError(
      `selectAt() needs a float "[N,V]" tensor, got ${x.dtype} "${fmtShape(x.shape)}"`,
    );
  }
  const [n, v] = x.shape;
  if (idx.rank !== 1 || idx.shape[0] !== n) {
    throw new RangeError(
      `selectAt() needs indices "[${n}]" for "${fmtShape(x.shape)}", got "${fmtShape(idx.shape)}"`,
    );
  }
  if (idx.backend !== x.backend) {
    throw new TypeError("selectAt() got tensors on different backends");
  }
  assertIndicesInRange(idx, v, "selectAt", "indices", `the ${v} columns of "${fmtShape(x.shape)}"`);
  const backend = x.backend;
  const out = empty([n], "float32", backend);
  if (backend.kind === "cpu") {
    const xa = x.storage.array!;
    const iv = cpuValues(idx);
    const o = out.storage.array!;
    for (let i = 0; i < n; i++) o[i] = xa[x.offset + i * x.strides[0] + iv[i] * x.strides[1]];
  } else if (n > 0) {
    const [s0, s1] = x.strides;
    const idxBinding = wholeBinding(idx, "selectAt");
    const outBinding = wholeBinding(out, "selectAt");
    for (const win of rowWindows(x, n, s0, v === 0 ? 1 : (v - 1) * s1 + 1)) {
      backend.dispatcher.run({
        key: "select:at",
        wgsl: selectAtWgsl,
        uniforms: new Uniforms()
          .u32(win.r1 - win.r0, win.r0, v, win.base, s0, s1, idx.offset, idx.strides[0]).words,
        inputs: [win.binding, idxBinding],
        outputs: [outBinding],
        workgroups: grid1d(win.r1 - win.r0),
      });
    }
  }
  return record(out, "selectAt", [x, idx], (g) => [selectAtGrad(g, idx, v), null]);
}

// The one-hot gradient of selectAt: a dense [N, V] tensor.
function selectAtGrad(g: Tensor, idx: Tensor, v: number): Tensor {
  const n = g.size;
  const backend = g.backend;
  const out = empty([n, v], "float32", backend);
  if (out.size === 0) return out;
  if (backend.kind === "cpu") {
    const gv = cpuValues(g);
    const iv = cpuValues(idx);
    const o = out.storage.array!;
    for (let i = 0; i < n; i++) o[i * v + iv[i]] = gv[i];
    return out;
  }
  const vec4 = v % 4 === 0;
  const w = vec4 ? 4 : 1;
  const cols = v / w;
  const layout = rowsLayout(cols);
  const gBinding = wholeBinding(g, "selectAt");
  const idxBinding = wholeBinding(idx, "selectAt");
  for (const win of rowWindows(out, n, v, v, maxLaunchRows(layout))) {
    const count = win.r1 - win.r0;
    backend.dispatcher.run({
      key: selectAtGradKey(vec4, layout),
      wgsl: () => selectAtGradWgsl(vec4, layout),
      uniforms: new Uniforms()
        .u32(cols, win.r0, win.base / w, g.offset, g.strides[0], idx.offset, idx.strides[0], count)
        .words,
      inputs: [gBinding, idxBinding],
      outputs: [win.binding],
      workgroups: gridRows(cols, count, layout),
    });
  }
  return out;
}

/**
 * Index of the maximum along an axis; ties go to the first (lowest) index. NaN values are
 * skipped (a slice of only NaN gives 0). No gradient.
 * @param x Float input (any view).
 * @param axis Reduced axis (default the last).
 * @returns int32 tensor of `x.shape` without `axis`.
 */
export function argmax(x: Tensor, axis = -1): Tensor {
  x.assertLive("argmax");
  if (x.dtype !== "float32") {
    throw new TypeError(
      `argmax() needs a float tensor, got ${x.dtype} of shape "${fmtShape(x.shape)}"`,
    );
  }
  const [ax] = normalizeAxes(axis, x.rank);
  const len = x.shape[ax];
  if (len === 0) {
    throw new RangeError(`argmax() over the empty axis ${ax} of "${fmtShape(x.shape)}"`);
  }
  const keptDims = x.shape.map((_, i) => i).filter((i) => i !== ax);
  const outShape = keptDims.map((i) => x.shape[i]);
  const backend = x.backend;
  const out = empty(outShape, "int32", backend);
  const rows = out.size;
  if (rows === 0) return out;
  // Move the axis last (a view), so rows are contiguous runs after at most one copy.
  const perm = [...keptDims, ax];
  const moved = view(x, perm.map((i) => x.shape[i]), perm.map((i) => x.strides[i]), x.offset);
  if (backend.kind === "cpu") {
    const xa = x.storage.array!;
    const o = out.storage.array as Int32Array;
    const lead = outShape.length === 0 ? [1] : outShape;
    const leadStrides = outShape.length === 0 ? [0] : keptDims.map((i) => x.strides[i]);
    const step = x.strides[ax];
    forEachStrided(lead, [leadStrides], [x.offset], (r, offs) => {
      let best = 0;
      let bi = -1;
      for (let j = 0; j < len; j++) {
        const e = xa[offs[0] + j * step];
        if (!Number.isNaN(e) && (bi < 0 || e > best)) {
          best = e;
          bi = j;
        }
      }
      o[r] = Math.max(bi, 0);
    });
    moved.dispose();
    return out;
  }
  const src = contiguousView(moved);
  // Long rows go to the tree variant: it parallelises them, and its per-thread loop stays far
  // below lavapipe's limit of 65,535 iterations per loop.
  const tree = len >= 512;
  const outBinding = wholeBinding(out, "argmax");
  for (const win of rowWindows(src, rows, len, len)) {
    backend.dispatcher.run({
      key: argmaxKey(tree),
      wgsl: () => argmaxWgsl(tree),
      uniforms: new Uniforms().u32(win.r1 - win.r0, win.r0, len, win.base).words,
      inputs: [win.binding],
      outputs: [outBinding],
      workgroups: tree ? grid1d(win.r1 - win.r0, 1) : grid1d(win.r1 - win.r0),
    });
  }
  if (src !== moved) src.dispose();
  moved.dispose();
  return out;
}

/**
 * Compares int32 tensors elementwise: 1 where equal, else 0, as a float tensor (no gradient).
 * With `argmax` this gives token accuracy on the device, e.g.
 * `sum(mul(indexEqual(argmax(logits), targets), valid)) / sum(valid)` where
 * `valid = add(neg(indexEqual(targets, -100)), 1)`.
 * @param a int32 tensor (any view).
 * @param b int32 tensor of the same shape, or one integer.
 * @returns Float `0/1` tensor of `a`'s shape.
 */
export function indexEqual(a: Tensor, b: Tensor | number): Tensor {
  assertIndexTensor(a, "indexEqual", "values");
  const scalar = typeof b === "number";
  if (!scalar) {
    assertIndexTensor(b, "indexEqual", "values");
    if (fmtShape(a.shape) !== fmtShape(b.shape)) {
      throw new RangeError(`Cannot compare "${fmtShape(a.shape)}" with "${fmtShape(b.shape)}"`);
    }
    if (b.backend !== a.backend) {
      throw new TypeError("indexEqual() got tensors on different backends");
    }
  } else if (!Number.isInteger(b)) {
    throw new TypeError(`indexEqual() needs an integer to compare with, got ${b}`);
  }
  const backend = a.backend;
  const out = empty(a.shape, "float32", backend);
  const n = out.size;
  if (n === 0) return out;
  if (backend.kind === "cpu") {
    const av = cpuValues(a);
    const bv = scalar ? null : cpuValues(b);
    const o = out.storage.array!;
    for (let i = 0; i < n; i++) o[i] = av[i] === (bv === null ? b : bv[i]) ? 1 : 0;
    return out;
  }
  const ac = contiguousView(a);
  const bc = scalar ? null : contiguousView(b);
  backend.dispatcher.run({
    key: indexEqualKey(scalar),
    wgsl: () => indexEqualWgsl(scalar),
    uniforms: new Uniforms().u32(n, ac.offset, bc?.offset ?? 0).i32(scalar ? b : 0).words,
    inputs: bc === null ? [ac.binding()] : [ac.binding(), bc.binding()],
    outputs: [out.binding()],
    workgroups: grid1d(n),
  });
  if (ac !== a) ac.dispose();
  if (bc !== null && bc !== b) bc.dispose();
  return out;
}
