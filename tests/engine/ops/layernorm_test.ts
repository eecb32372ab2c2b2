import assert from "node:assert/strict";
import { assertClose, checkOp } from "../../_check.ts";
import { gpu } from "../../_gpu.ts";
import { gpuTest } from "../../_gpu.ts";
import { compareBackends, hardwareStyle } from "./_compare.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { tensor, zeros } from "../../../engine/ops/creation.ts";
import { addLayerNorm, layerNorm } from "../../../engine/ops/layernorm.ts";
import { add, mul } from "../../../engine/ops/elementwise.ts";
import { reshape, slice, transpose } from "../../../engine/ops/view.ts";
import { liveTensorCount, type Tensor } from "../../../engine/tensor.ts";

checkOp({
  name: "`layerNorm()` of odd rows [7, 13]",
  inputs: [[7, 13], [13], [13]],
  fn: ([x, w, b]) => layerNorm(x, w, b),
});
checkOp({
  name: "`layerNorm()` of a rank-3 tensor [3, 5, 17]",
  inputs: [[3, 5, 17], [17], [17]],
  fn: ([x, w, b]) => layerNorm(x, w, b),
});
checkOp({
  name: "`layerNorm()` of a transposed view with a large eps",
  inputs: [[9, 6], [9], [9]],
  fn: ([x, w, b]) => layerNorm(transpose(x), w, b, 0.5),
});
checkOp({
  name: "`layerNorm()` with sliced weight and bias views",
  inputs: [[4, 6], [10], [10]],
  fn: ([x, w, b]) => layerNorm(x, slice(w, [2], [8]), slice(b, [3], [9])),
});
checkOp({
  name: "`layerNorm()` of a contiguous view at offset 4 (vec4 access)",
  inputs: [[36], [8], [8]],
  fn: ([x, w, b]) => layerNorm(reshape(slice(x, [4]), [4, 8]), w, b),
});
checkOp({
  name: "`layerNorm()` with a weight at offset 1 (scalar access)",
  inputs: [[4, 8], [9], [8]],
  fn: ([x, w, b]) => layerNorm(x, slice(w, [1]), b),
});
checkOp({
  name: "`layerNorm()` of rows of length 1 gives the bias",
  inputs: [[5, 1], [1], [1]],
  fn: ([x, w, b]) => layerNorm(x, w, b),
});
checkOp({
  name: "`layerNorm()` of many rows [300, 5] (column reduction over chunks)",
  inputs: [[300, 5], [5], [5]],
  fn: ([x, w, b]) => layerNorm(x, w, b),
  fwd: { atol: 1e-5, rtol: 1e-3 },
  grad: { atol: 1e-3, rtol: 1e-3 },
  eps: 1e-4,
});
checkOp({
  name: "`layerNorm()` of few long rows [2, 300] (workgroup per row)",
  inputs: [[2, 300], [300], [300]],
  fn: ([x, w, b]) => layerNorm(x, w, b),
  eps: 1e-4,
});
checkOp({
  name: "`layerNorm()` of rows with a large mean",
  inputs: [
    { shape: [2, 5], values: [1000, 1001, 1002, 1003, 1004, -500, -500.5, -501, -499, -498] },
    [5],
    [5],
  ],
  fn: ([x, w, b]) => layerNorm(x, w, b),
  fwd: { atol: 2e-4, rtol: 1e-3 },
  grad: { atol: 1e-3, rtol: 1e-3 },
  fd: { atol: 1e-5, rtol: 1e-4 },
});

// The residual add fused with the norm: both outputs carry gradient in every case.
const bothOutputs = ([x, r, w, b]: Tensor[]): Tensor => {
  const o = addLayerNorm(x, r, w, b);
  return add(mul(o.sum, 0.5), o.normed);
};
checkOp({
  name: "`addLayerNorm()` of odd rows [7, 13] (scalar access)",
  inputs: [[7, 13], [7, 13], [13], [13]],
  fn: bothOutputs,
});
checkOp({
  name: "`addLayerNorm()` of rank-3 rows [2, 3, 16] (vec4 access)",
  inputs: [[2, 3, 16], [2, 3, 16], [16], [16]],
  fn: bothOutputs,
});
checkOp({
  name: "`addLayerNorm()` of a transposed residual and a sliced addend",
  inputs: [[8, 6], [6, 10], [8], [8]],
  fn: ([x, r, w, b]) => bothOutputs([transpose(x), slice(r, [0, 1], [6, 9]), w, b]),
});
checkOp({
  name: "`addLayerNorm()` of few long rows [2, 300] (workgroup per row)",
  inputs: [[2, 300], [2, 300], [300], [300]],
  fn: bothOutputs,
  eps: 1e-4,
});

gpuTest("`addLayerNorm()` matches the reference for [256, 128] rows", async () => {
  await compareBackends(
    [{ shape: [256, 128], range: [-3, 3] }, { shape: [256, 128], range: [-3, 3] }, {
      shape: [128],
      range: [0.5, 1.5],
    }, { shape: [128], range: [-1, 1] }],
    bothOutputs,
    { atol: 1e-5, rtol: 1e-3 },
    { atol: 1e-3, rtol: 1e-3 },
  );
});

gpuTest("`layerNorm()` matches the reference for GPT-2-sized rows [64, 768]", async () => {
  await compareBackends(
    [{ shape: [64, 768], range: [-3, 3] }, { shape: [768], range: [0.5, 1.5] }, {
      shape: [768],
      range: [-1, 1],
    }],
    ([x, w, b]) => layerNorm(x, w, b),
    { atol: 1e-5, rtol: 1e-3 },
    { atol: 1e-3, rtol: 1e-3 },
  );
});

gpuTest("`layerNorm()` matches the reference for many rows [2000, 40]", async () => {
  await compareBackends(
    [{ shape: [2000, 40], range: [-3, 3] }, { shape: [40], range: [0.5, 1.5] }, {
      shape: [40],
      range: [-1, 1],
    }],
    ([x, w, b]) => layerNorm(x, w, b),
    { atol: 1e-5, rtol: 1e-3 },
    { atol: 1e-3, rtol: 1e-3 },
  );
});

for (const backend of [CPU, gpu] as (Backend | null)[]) {
  if (backend === null) continue;
  Deno.test({
    name: `\`layerNorm()\` normalises known values on ${backend.kind}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      // Row [1, 2, 3, 4]: mean 2.5, variance 1.25.
      const x = tensor([1, 2, 3, 4, 5, 5, 5, 5], [2, 4], { backend });
      const w = tensor([1, 2, 1, 1], [4], { backend });
      const b = tensor([0, 0, 0, 10], [4], { backend });
      const y = layerNorm(x, w, b, 0);
      const r = 1 / Math.sqrt(1.25);
      const expect = [-1.5 * r, -1 * r, 0.5 * r, 1.5 * r + 10, 0, 0, 0, 10];
      // A constant row has zero variance: with eps = 0 it would be 0/0, so use the default.
      const y2 = layerNorm(x, w, b);
      assertClose(
        (await y.toArray()).slice(0, 4),
        expect.slice(0, 4),
        { atol: 1e-6, rtol: 1e-6 },
        "row 0",
      );
      assertClose(
        (await y2.toArray()).slice(4),
        expect.slice(4),
        { atol: 1e-6, rtol: 1e-6 },
        "constant row",
      );
      for (const t of [x, w, b, y, y2]) t.dispose();
    },
  });

  Deno.test({
    name: `\`layerNorm()\` frees its saved statistics on ${backend.kind}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => {
      const before = liveTensorCount();
      const x = tensor([1, 2, 3, 4, 5, 7], [2, 3], { backend, requiresGrad: true });
      const w = tensor([1, 2, 3], [3], { backend, requiresGrad: true });
      const b = tensor([0, 1, 0], [3], { backend });
      const y = layerNorm(x, w, b);
      y.backward(tensor([1, 0, 2, 1, 1, 3], [2, 3], { backend }));
      assert.equal(b.grad, null);
      const unrecorded = layerNorm(b, b, b);
      for (const t of [x.grad!, w.grad!, x, w, b, y, unrecorded]) t.dispose();
      assert.equal(liveTensorCount(), before + 1); // the upstream gradient tensor above
    },
  });
}

Deno.test("`layerNorm()` rejects weight or bias of the wrong size", () => {
  const x = zeros([4, 5], { backend: CPU });
  const good = zeros([5], { backend: CPU });
  const bad = zeros([4], { backend: CPU });
  const matrix = zeros([1, 5], { backend: CPU });
  assert.throws(() => layerNorm(x, bad, good), {
    name: "RangeError",
    message: 'layerNorm() of "[4,5]" needs weight of shape "[5]", got "[4]"',
  });
  assert.throws(() => layerNorm(x, good, bad), {
    name: "RangeError",
    message: 'layerNorm() of "[4,5]" needs bias of shape "[5]", got "[4]"',
  });
  assert.throws(() => layerNorm(x, matrix, good), RangeError);
  for (const t of [x, good, bad, matrix]) t.dispose();
});

Deno.test("`layerNorm()` rejects a scalar input, int tensors and a negative eps", () => {
  const w = zeros([1], { backend: CPU });
  const s = tensor(2, [], { backend: CPU });
  assert.throws(() => layerNorm(s, w, w), {
    name: "RangeError",
    message: /at least one dimension/,
  });
  const xi = tensor([1, 2], [2], { backend: CPU, dtype: "int32" });
  assert.throws(() => layerNorm(xi, w, w), {
    name: "TypeError",
    message: /needs a float tensor, got int32/,
  });
  const x = zeros([3, 2], { backend: CPU });
  const w2 = zeros([2], { backend: CPU });
  assert.throws(() => layerNorm(x, xi, w2), {
    name: "TypeError",
    message: "layerNorm() needs a float weight, got int32",
  });
  assert.throws(() => layerNorm(x, w2, w2, -1), {
    name: "RangeError",
    message: /eps must be non-negative/,
  });
  for (const t of [w, s, xi, x, w2]) t.dispose();
});

// Hardware-adapter plans (a workgroup per long row, vec4 or scalar), run on the test device.
for (const [n, d] of [[7, 13], [3, 300], [2, 301], [2, 3000], [200, 100]]) {
  gpuTest(
    `\`layerNorm()\` with hardware plans matches the reference for [${n}, ${d}]`,
    async () => {
      await compareBackends(
        [{ shape: [n, d], range: [-3, 3] }, { shape: [d], range: [0.5, 1.5] }, {
          shape: [d],
          range: [-1, 1],
        }],
        ([x, w, b]) => layerNorm(x, w, b),
        { atol: 1e-5, rtol: 1e-3 },
        { atol: 1e-3, rtol: 1e-3 },
        hardwareStyle(),
      );
    },
  );
}
