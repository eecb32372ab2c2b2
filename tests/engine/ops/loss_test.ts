import assert from "node:assert/strict";
import { assertClose, checkOp } from "../../_check.ts";
import { gpu, gpuTest } from "../../_gpu.ts";
import { compareBackends, hardwareStyle } from "./_compare.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { tensor, zeros } from "../../../engine/ops/creation.ts";
import { crossEntropy } from "../../../engine/ops/loss.ts";
import { transpose } from "../../../engine/ops/view.ts";
import { liveTensorCount } from "../../../engine/tensor.ts";

// Deterministic targets in [0, v), with `ignore` at the listed rows.
function targets(n: number, v: number, ignoredRows: number[] = [], ignore = -100): number[] {
  return Array.from({ length: n }, (_, i) => (ignoredRows.includes(i) ? ignore : (i * 7 + 3) % v));
}
const ints = (shape: number[], values: number[]) => ({ shape, values, int: true });

checkOp({
  name: "`crossEntropy()` means over non-ignored rows of [7, 13]",
  inputs: [[7, 13], ints([7], targets(7, 13, [2, 5]))],
  fn: ([x, t]) => crossEntropy(x, t),
});
checkOp({
  name: "`crossEntropy()` sums over [3, 5, 17] logits with [3, 5] targets",
  inputs: [[3, 5, 17], ints([3, 5], targets(15, 17, [0, 14]))],
  fn: ([x, t]) => crossEntropy(x, t, { reduction: "sum" }),
});
checkOp({
  name: "`crossEntropy()` returns per-row losses with reduction none",
  inputs: [[7, 13], ints([7], targets(7, 13, [4]))],
  fn: ([x, t]) => crossEntropy(x, t, { reduction: "none" }),
});
checkOp({
  name: "`crossEntropy()` returns per-row losses of [2, 3] targets with reduction none",
  inputs: [[2, 3, 5], ints([2, 3], targets(6, 5, [1]))],
  fn: ([x, t]) => crossEntropy(x, t, { reduction: "none" }),
});
checkOp({
  name: "`crossEntropy()` of one row of logits [V] with a scalar target",
  inputs: [[6], { shape: [], values: [4], int: true }],
  fn: ([x, t]) => crossEntropy(x, t, { reduction: "none" }),
});
checkOp({
  name: "`crossEntropy()` honours a custom ignore index that is a valid class",
  inputs: [[6, 4], ints([6], [0, 1, 2, 3, 2, 1])],
  fn: ([x, t]) => crossEntropy(x, t, { ignoreIndex: 2 }),
});
checkOp({
  name: "`crossEntropy()` of one class (V = 1) is zero",
  inputs: [[4, 1], ints([4], [0, 0, -100, 0])],
  fn: ([x, t]) => crossEntropy(x, t),
});
checkOp({
  name: "`crossEntropy()` of a transposed view of logits",
  inputs: [[9, 5], ints([5], targets(5, 9))],
  fn: ([x, t]) => crossEntropy(transpose(x), t),
});
checkOp({
  name: "`crossEntropy()` of few long rows (V = 1000)",
  inputs: [[2, 1000], ints([2], [17, 999])],
  range: [-5, 5],
  fn: ([x, t]) => crossEntropy(x, t),
  eps: 1e-4,
});
checkOp({
  name: "`crossEntropy()` of many short rows [300, 3]",
  inputs: [[300, 3], ints([300], targets(300, 3, [7, 100, 299]))],
  fn: ([x, t]) => crossEntropy(x, t, { reduction: "sum" }),
  eps: 1e-4,
});
checkOp({
  name: "`crossEntropy()` of logits of ±80 stays finite",
  inputs: [
    { shape: [3, 4], values: [80, -80, 0, 79.5, -80, -79, -80, 80, 80, 80, -80, -80] },
    ints([3], [1, 0, 3]),
  ],
  fn: ([x, t]) => crossEntropy(x, t),
});
checkOp({
  name: "`crossEntropy()` of an all-ignored batch is zero with zero gradient",
  inputs: [[3, 5], ints([3], [-100, -100, -100])],
  fn: ([x, t]) => crossEntropy(x, t),
});

gpuTest("`crossEntropy()` matches the reference for GPT-2-sized rows (V = 50257)", async () => {
  await compareBackends(
    [{ shape: [3, 50257], range: [-8, 8] }, { shape: [3], ints: [50256, 0, -100] }],
    ([x, t]) => crossEntropy(x, t),
    { atol: 1e-4, rtol: 1e-5 },
    { atol: 1e-7, rtol: 1e-3 },
  );
});

for (const backend of [CPU, gpu] as (Backend | null)[]) {
  if (backend === null) continue;
  const on = `on ${backend.kind}`;
  Deno.test({
    name: `\`crossEntropy()\` of uniform logits is ln V ${on}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      for (const v of [1, 3, 1000]) {
        const x = zeros([4, v], { backend });
        const t = tensor([0, v - 1, Math.floor(v / 2), 0], [4], { backend, dtype: "int32" });
        for (const reduction of ["mean", "none"] as const) {
          const loss = crossEntropy(x, t, { reduction });
          const expect = new Array(reduction === "mean" ? 1 : 4).fill(Math.log(v));
          assertClose(await loss.toArray(), expect, { atol: 1e-6, rtol: 1e-6 }, `V = ${v}`);
          loss.dispose();
        }
        x.dispose();
        t.dispose();
      }
    },
  });

  Deno.test({
    name: `\`crossEntropy()\` of an all-ignored batch gives 0 loss and 0 gradient, not NaN, ${on}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { backend, requiresGrad: true });
      const t = tensor([-100, -100], [2], { backend, dtype: "int32" });
      const loss = crossEntropy(x, t);
      loss.backward();
      assert.deepEqual(Array.from(await loss.toArray()), [0]);
      assert.deepEqual(Array.from(await x.grad!.toArray()), [0, 0, 0, 0, 0, 0]);
      for (const u of [x.grad!, x, t, loss]) u.dispose();
    },
  });

  Deno.test({
    name: `\`crossEntropy()\` of an empty batch gives 0 ${on}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const x = zeros([0, 5], { backend });
      const t = tensor([], [0], { backend, dtype: "int32" });
      for (const reduction of ["mean", "sum"] as const) {
        const loss = crossEntropy(x, t, { reduction });
        assert.deepEqual(Array.from(await loss.toArray()), [0]);
        loss.dispose();
      }
      x.dispose();
      t.dispose();
    },
  });

  Deno.test({
    name: `\`crossEntropy()\` frees its saved statistics after backward ${on}`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => {
      const before = liveTensorCount();
      const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { backend, requiresGrad: true });
      const t = tensor([0, 2], [2], { backend, dtype: "int32" });
      const loss = crossEntropy(x, t);
      loss.backward();
      const constant = zeros([2, 3], { backend });
      const unrecorded = crossEntropy(constant, t);
      for (const u of [x.grad!, x, t, loss, constant, unrecorded]) u.dispose();
      assert.equal(liveTensorCount(), before);
    },
  });
}

Deno.test("`crossEntropy()` on the CPU rejects a target outside [0, V) naming the row and value", () => {
  const x = zeros([3, 4], { backend: CPU });
  for (const bad of [4, -1]) {
    const t = tensor([0, bad, 1], [3], { backend: CPU, dtype: "int32" });
    assert.throws(() => crossEntropy(x, t), {
      name: "RangeError",
      message:
        `crossEntropy() target ${bad} at row 1 is outside [0, 4) and is not the ignore index -100`,
    });
    t.dispose();
  }
  x.dispose();
});

gpuTest("`crossEntropy()` on WebGPU treats a target outside [0, V) as ignored", async (gpu) => {
  const values = [0.5, -1, 2, 0.25, 1, 1, -3, 0, 2, 2, 1, -1];
  const x = tensor(values, [3, 4], { backend: gpu, requiresGrad: true });
  const bad = tensor([2, 7, 1], [3], { backend: gpu, dtype: "int32" });
  const loss = crossEntropy(x, bad);
  loss.backward();
  const xr = tensor(values, [3, 4], { backend: CPU, requiresGrad: true });
  const ignored = tensor([2, -100, 1], [3], { backend: CPU, dtype: "int32" });
  const ref = crossEntropy(xr, ignored);
  ref.backward();
  assertClose(await loss.toArray(), await ref.toArray(), { atol: 1e-6, rtol: 1e-5 }, "loss");
  assertClose(
    await x.grad!.toArray(),
    await xr.grad!.toArray(),
    { atol: 1e-6, rtol: 1e-5 },
    "gradient",
  );
  for (const u of [x.grad!, x, bad, loss, xr.grad!, xr, ignored, ref]) u.dispose();
});

gpuTest("`crossEntropy()` counts targets on the device without a readback", (gpu) => {
  const x = tensor([1, 2, 3, 4, 5, 6, 7, 8], [4, 2], { backend: gpu, requiresGrad: true });
  const t = tensor([0, -100, 1, 1], [4], { backend: gpu, dtype: "int32" });
  const before = gpu.dispatcher.stats().readbacks;
  const loss = crossEntropy(x, t);
  loss.backward();
  assert.equal(gpu.dispatcher.stats().readbacks, before);
  for (const u of [x.grad!, x, t, loss]) u.dispose();
});

Deno.test("`crossEntropy()` rejects targets whose shape differs from the logits' leading dimensions", () => {
  const x = zeros([4, 5], { backend: CPU });
  const t = tensor([0, 1, 2], [3], { backend: CPU, dtype: "int32" });
  assert.throws(() => crossEntropy(x, t), {
    name: "RangeError",
    message:
      'Cannot compute crossEntropy() of logits "[4,5]" and targets "[3]": targets must have shape "[4]"',
  });
  const t2 = tensor([0, 1, 2, 3], [2, 2], { backend: CPU, dtype: "int32" });
  assert.throws(() => crossEntropy(x, t2), RangeError);
  for (const u of [x, t, t2]) u.dispose();
});

Deno.test("`crossEntropy()` rejects float targets", () => {
  const x = zeros([2, 3], { backend: CPU });
  const t = tensor([0, 1], [2], { backend: CPU });
  assert.throws(() => crossEntropy(x, t), {
    name: "TypeError",
    message: 'crossEntropy() needs int32 targets, got float32 of shape "[2]"',
  });
  x.dispose();
  t.dispose();
});

Deno.test("`crossEntropy()` rejects int logits, a scalar, and an unknown reduction", () => {
  const t = tensor([0, 1], [2], { backend: CPU, dtype: "int32" });
  const xi = tensor([0, 1, 2, 3], [2, 2], { backend: CPU, dtype: "int32" });
  assert.throws(() => crossEntropy(xi, t), {
    name: "TypeError",
    message: /needs a float tensor, got int32/,
  });
  const s = tensor(1, [], { backend: CPU });
  assert.throws(() => crossEntropy(s, t), {
    name: "RangeError",
    message: /at least one dimension/,
  });
  const x = zeros([2, 2], { backend: CPU });
  // @ts-expect-error: an invalid reduction is rejected at run time too.
  assert.throws(() => crossEntropy(x, t, { reduction: "avg" }), {
    name: "RangeError",
    message: /reduction must be/,
  });
  for (const u of [t, xi, s, x]) u.dispose();
});

// Hardware-adapter plans (a workgroup per long row), run on the test device.
for (const [n, v] of [[7, 13], [3, 300], [2, 3001], [200, 100]]) {
  for (const reduction of ["mean", "none"] as const) {
    gpuTest(
      `\`crossEntropy()\` (${reduction}) with hardware plans matches the reference for [${n}, ${v}]`,
      async () => {
        await compareBackends(
          [{ shape: [n, v], range: [-4, 4] }, { shape: [n], ints: targets(n, v, [1]) }],
          ([x, t]) => crossEntropy(x, t, { reduction }),
          { atol: 1e-5, rtol: 1e-5 },
          { atol: 1e-7, rtol: 1e-3 },
          hardwareStyle(),
        );
      },
    );
  }
}
