/**
 * Indexing ops with autograd: `embedding` and `gather` (rows picked by int32 indices; their
 * gradient is a deterministic scatter-add), plus `concat`/`stack` (re-exported from
 * `concat.ts`), `selectAt`, `argmax` and `indexEqual` (re-exported from `select.ts`).
 * @module
 */
import { empty } from "../alloc.ts";
import { ADDED, type GradResult, record, usableSink } from "./tape.ts";
import { fmtShape, normalizeAxes, type Shape, sizeOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { Uniforms } from "../../kernels/common.ts";
import {
  gatherRowsKey,
  gatherRowsWgsl,
  gridRows,
  maxLaunchRows,
  rowsLayout,
} from "../../kernels/gather.ts";
import { fill, materialize, view } from "./copy.ts";
import { add } from "./elementwise.ts";
import { sumLeadingInto } from "./reduce.ts";
import { slice } from "./view.ts";
import { cpuValues } from "./cpu_iter.ts";
import { assertIndexTensor, assertIndicesInRange, contiguousView } from "./indices.ts";
import { scatterAddRows, scatterAddRowsInto } from "./scatter.ts";
import { rowWindows, wholeBinding } from "./windows.ts";

export { concat, stack } from "./concat.ts";
export { argmax, indexEqual, selectAt } from "./select.ts";

/**
 * Looks up embedding rows: `out[..., :] = weight[ids[...], :]`. The gradient w.r.t. `weight`
 * adds the upstream rows of repeated ids (deterministically on WebGPU). Ids outside `[0, V)`
 * throw on the CPU backend; on WebGPU (whose values are never read back) they give zero rows and
 * no gradient.
 * @param weight Table `[V, D]`.
 * @param ids int32 ids of any shape.
 * @returns `[...ids.shape, D]`.
 */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  weight.assertLive("embedding");
  assertIndexTensor(ids, "embedding", "ids");
  if (weight.rank !== 2 || weight.dtype !== "float32") {
    throw new TypeError(
      `embedding() needs a float weight "[V,D]", got ${weight.dtype} "${fmtShape(weight.shape)}"`,
    );
  }
  if (ids.backend !== weight.backend) {
    throw new TypeError("embedding() got tensors on different backends");
  }
  const [v, d] = weight.shape;
  assertIndicesInRange(
    ids,
    v,
    "embedding",
    "ids",
    `the ${v} rows of weight "${fmtShape(weight.shape)}"`,
  );
  const out = gatherRaw(weight, ids, 0, [...ids.shape, d], "embedding");
  return record(out, "embedding", [weight, ids], (g, sinks) => [
    scatterRule(g, ids, weight.shape, 0, "embedding", sinks[0]),
    null,
  ]);
}

/**
 * Token plus position embeddings of a batch, `out[b, t, :] = wte[ids[b, t], :] + wpe[t, :]`, in
 * one gather (no separate broadcast add). The gradient of `wpe` is the batch sum of the upstream
 * gradient, added into rows `0 .. T-1` of its sink in one column reduction when autograd offers
 * one; that of `wte` is the scatter-add of {@linkcode embedding}.
 * @param wte Token table `[V, D]`.
 * @param wpe Position table `[P, D]` with `P ≥ T`.
 * @param ids int32 token ids `[B, T]`.
 * @returns `[B, T, D]`.
 */
export function embeddingWithPositions(wte: Tensor, wpe: Tensor, ids: Tensor): Tensor {
  wpe.assertLive("embedding");
  assertIndexTensor(ids, "embedding", "ids");
  const [b, t] = ids.shape;
  const d = wte.shape[1];
  if (
    ids.rank !== 2 || wpe.rank !== 2 || wpe.shape[1] !== d || wpe.shape[0] < t ||
    wpe.dtype !== "float32" || wpe.backend !== wte.backend
  ) {
    throw new RangeError(
      `Cannot add positions "${fmtShape(wpe.shape)}" to embeddings "${
        fmtShape(wte.shape)
      }" of ids "${fmtShape(ids.shape)}"`,
    );
  }
  if (wte.backend.kind === "cpu") {
    return add(embedding(wte, ids), slice(wpe, [0, 0], [t, d]));
  }
  assertIndicesInRange(
    ids,
    wte.shape[0],
    "embedding",
    "ids",
    `the rows of "${fmtShape(wte.shape)}"`,
  );
  const out = gatherRaw(wte, ids, 0, [b, t, d], "embedding", wpe);
  return record(out, "embeddingWithPositions", [wte, wpe, ids], (g, sinks) => {
    const gw = wte.requiresGrad ? scatterRule(g, ids, wte.shape, 0, "embedding", sinks[0]) : null;
    return [gw, wpe.requiresGrad ? positionGrad(g, wpe, t, usableSink(sinks[1])) : null, null];
  });
}

// The scatter-add gradient of a gather, added into the sink when there is one.
function scatterRule(
  g: Tensor,
  ids: Tensor,
  shape: Shape,
  axis: number,
  op: string,
  sink: Tensor | null,
): GradResult {
  const into = usableSink(sink);
  if (into === null) return scatterAddRows(g, ids, shape, axis, op);
  scatterAddRowsInto(g, ids, into, axis, op);
  return ADDED;
}

// Σ_b g[b, t, :] for t < T, added into rows 0 .. T-1 of the sink, or written into a new table
// whose other rows are zero.
function positionGrad(g: Tensor, wpe: Tensor, t: number, sink: Tensor | null): GradResult {
  const [p, d] = wpe.shape;
  const dst = sink ?? empty(wpe.shape, "float32", g.backend);
  if (sink === null && p > t) fill(dst, 0);
  const rows = view(dst, [t * d], [1], dst.offset);
  const gc = materialize(g);
  const flat = view(gc, [gc.size / (t * d), t * d], [t * d, 1], gc.offset);
  sumLeadingInto(flat, rows, sink !== null);
  for (const x of [rows, flat]) x.dispose();
  if (gc !== g) gc.dispose();
  return sink === null ? dst : ADDED;
}

/**
 * Selects slices along an axis: `out` is `x` with dimension `axis` replaced by the entries of
 * `indices` (repeats allowed). The gradient scatter-adds back. Indices outside the axis throw on
 * the CPU backend; on WebGPU they give zero slices and no gradient.
 * @param indices int32 `[n]`.
 * @param axis Axis to index (negative counts from the end).
 * @returns `x.shape` with `shape[axis] = n`.
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  x.assertLive("gather");
  assertIndexTensor(indices, "gather", "indices");
  if (x.dtype !== "float32") {
    throw new TypeError(
      `gather() needs a float tensor, got ${x.dtype} of shape "${fmtShape(x.shape)}"`,
    );
  }
  if (indices.rank !== 1) {
    throw new RangeError(`gather() needs indices "[n]", got "${fmtShape(indices.shape)}"`);
  }
  if (indices.backend !== x.backend) {
    throw new TypeError("gather() got tensors on different backends");
  }
  const [ax] = normalizeAxes(axis, x.rank);
  const size = x.shape[ax];
  assertIndicesInRange(indices, size, "gather", "indices", `axis ${ax} of "${fmtShape(x.shape)}"`);
  const shape = [...x.shape];
  shape[ax] = indices.size;
  const out = gatherRaw(x, indices, ax, shape, "gather");
  return record(out, "gather", [x, indices], (g, sinks) => [
    scatterRule(g, indices, x.shape, ax, "gather", sinks[0]),
    null,
  ]);
}

/**
 * `out[o, j, :] = x[o, ids[j], :]` around `axis`, without autograd or range checks.
 * @param ids int32 indices (flattened).
 * @param axis Indexed axis of `x`.
 * @param shape Result shape (`[outer, n, inner]` elements).
 * @returns A new contiguous tensor.
 */
function gatherRaw(
  x: Tensor,
  ids: Tensor,
  axis: number,
  shape: Shape,
  op: string,
  addRows: Tensor | null = null,
): Tensor {
  const outer = sizeOf(x.shape.slice(0, axis));
  const a = x.shape[axis];
  const inner = sizeOf(x.shape.slice(axis + 1));
  const n = ids.size;
  const backend = x.backend;
  const out = empty(shape, "float32", backend);
  if (out.size === 0) return out;
  if (backend.kind === "cpu") {
    const xv = cpuValues(x);
    const iv = cpuValues(ids);
    const o = out.storage.array!;
    for (let b = 0; b < outer; b++) {
      for (let j = 0; j < n; j++) {
        const src = (b * a + iv[j]) * inner;
        const dst = (b * n + j) * inner;
        for (let c = 0; c < inner; c++) o[dst + c] = xv[src + c];
      }
    }
    return out;
  }
  const xc = contiguousView(x);
  const ic = contiguousView(ids);
  const pc = addRows === null ? null : contiguousView(addRows);
  const vec4 = inner % 4 === 0 && xc.offset % 4 === 0 && (pc === null || pc.offset % 4 === 0);
  const w = vec4 ? 4 : 1;
  const cols = inner / w;
  const rows = outer * n;
  const outBinding = wholeBinding(out, op);
  const idsBinding = wholeBinding(ic, op);
  const layout = rowsLayout(cols);
  const step = maxLaunchRows(layout);
  // x may exceed one binding: each window copies the rows it holds; the first also writes the
  // zero rows of out-of-range indices.
  if (a === 0) fill(out, 0);
  const extra = pc === null ? [] : [pc.binding()];
  const windows = a === 0 ? [] : rowWindows(xc, outer * a, inner, inner);
  windows.forEach((win, k) => {
    for (let y0 = 0; y0 < rows; y0 += step) {
      const count = Math.min(step, rows - y0);
      const u = new Uniforms()
        .u32(cols, n, a, win.r0, win.r1, win.base / w, ic.offset, y0, k === 0 ? 1 : 0, count);
      if (pc !== null) u.u32(pc.offset / w, ids.shape[ids.rank - 1]);
      backend.dispatcher.run({
        key: gatherRowsKey(vec4, layout, pc !== null),
        wgsl: () => gatherRowsWgsl(vec4, layout, pc !== null),
        uniforms: u.words,
        inputs: [win.binding, idsBinding, ...extra],
        outputs: [outBinding],
        workgroups: gridRows(cols, count, layout),
      });
    }
  });
  if (xc !== x) xc.dispose();
  if (ic !== ids) ic.dispose();
  if (pc !== addRows) pc?.dispose();
  return out;
}
