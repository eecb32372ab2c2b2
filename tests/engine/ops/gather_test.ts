import assert from "node:assert/strict";
import { assertClose, checkOp } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { CPU } from "../../../engine/backend.ts";
import { rng, tensor, toBackend, zeros } from "../../../engine/ops/creation.ts";
import { add, mul } from "../../../engine/ops/elementwise.ts";
import { sum } from "../../../engine/ops/reduce.ts";
import { reshape, slice, transpose } from "../../../engine/ops/view.ts";
import { argmax, concat, embedding, gather, selectAt, stack } from "../../../engine/ops/gather.ts";
import { scatterAddRows } from "../../../engine/ops/scatter.ts";
import { withBindingLimit } from "../../../engine/ops/windows.ts";
import { liveTensorCount, type Tensor } from "../../../engine/tensor.ts";

const ids = (values: number[], shape = [values.length]) => ({ shape, values, int: true });

checkOp({
  name: "`embedding()` adds the gradients of repeated ids",
  inputs: [[5, 7], ids([3, 1, 3, 0, 3])],
  fn: ([w, i]) => embedding(w, i),
});
checkOp({
  name: "`embedding()` keeps the ids' shape with vec4 rows",
  inputs: [[9, 8], ids([8, 0, 8, 2, 2, 5], [2, 3])],
  fn: ([w, i]) => embedding(w, i),
});
checkOp({
  name: "`embedding()` reads a transposed weight view",
  inputs: [[6, 3], ids([2, 0, 2, 1])],
  fn: ([w, i]) => embedding(transpose(w), i),
});
checkOp({
  name: "`embedding()` reads strided ids with an offset",
  inputs: [[6, 4], ids([9, 5, 1, 9, 0, 5, 9, 3, 3])],
  fn: ([w, i]) => embedding(w, slice(reshape(i, [3, 3]), [0, 1], [3, 3])),
});
checkOp({
  name: "`embedding()` of scalar ids gives one row",
  inputs: [[4, 5], ids([2], [])],
  fn: ([w, i]) => embedding(w, i),
});
checkOp({
  name: "`gather()` picks repeated rows along axis 0",
  inputs: [[7, 5], ids([6, 0, 6, 3])],
  fn: ([x, i]) => gather(x, i, 0),
});
checkOp({
  name: "`gather()` picks repeated columns along axis 1",
  inputs: [[3, 7, 5], ids([1, 6, 1, 1, 0])],
  fn: ([x, i]) => gather(x, i, 1),
});
checkOp({
  name: "`gather()` picks along the last axis of a slice",
  inputs: [[5, 9], ids([8, 2, 2])],
  fn: ([x, i]) => gather(slice(x, [1, 0], [4, 9]), i, -1),
});
checkOp({
  name: "`gather()` of no indices gives an empty axis",
  inputs: [[4, 3], ids([], [0])],
  fn: ([x, i]) => mul(gather(x, i, 0), 1),
});

Deno.test("`embedding()` throws naming the position and value of a bad id on the CPU", () => {
  const w = zeros([5, 3], { backend: CPU });
  const bad = tensor([[0, 1], [7, 2]], undefined, { dtype: "int32", backend: CPU });
  assert.throws(
    () => embedding(w, bad),
    /embedding\(\) index 7 at position \[1,0\] of ids "\[2,2\]" is out of range for the 5 rows of weight "\[5,3\]"/,
  );
  const neg = tensor([0, -1], [2], { dtype: "int32", backend: CPU });
  assert.throws(() => embedding(w, neg), /index -1 at position \[1\]/);
});

Deno.test("`gather()` throws on bad index tensors and out-of-range indices on the CPU", () => {
  const x = zeros([4, 3], { backend: CPU });
  const floatIdx = tensor([0, 1], [2], { backend: CPU });
  assert.throws(() => gather(x, floatIdx), /gather\(\) needs int32 indices, got float32/);
  const matrix = tensor([[0, 1]], undefined, { dtype: "int32", backend: CPU });
  assert.throws(() => gather(x, matrix), /gather\(\) needs indices "\[n\]", got "\[1,2\]"/);
  const i = tensor([3], [1], { dtype: "int32", backend: CPU });
  assert.throws(
    () => gather(x, i, 1),
    /index 3 at position \[0\] of indices "\[1\]" is out of range for axis 1 of "\[4,3\]"/,
  );
  assert.throws(() => gather(x, i, 2), /Axis "2" is out of range for rank 2/);
  const ints = tensor([[1, 2]], undefined, { dtype: "int32", backend: CPU });
  assert.throws(
    () => embedding(ints, i),
    /embedding\(\) needs a float weight "\[V,D\]", got int32 "\[1,2\]"/,
  );
});

gpuTest("`embedding()` errors name the backends when tensors live on different ones", (gpu) => {
  const w = zeros([3, 2], { backend: gpu });
  const i = tensor([0], [1], { dtype: "int32", backend: CPU });
  assert.throws(() => embedding(w, i), /embedding\(\) got tensors on different backends/);
  w.dispose();
});

gpuTest(
  "`embedding()` on WebGPU gives zero rows and no gradient for out-of-range ids",
  async (gpu) => {
    const w = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [5, 2], { backend: gpu, requiresGrad: true });
    const i = tensor([4, -1, 5, 0, 1000], [5], { dtype: "int32", backend: gpu });
    const y = embedding(w, i);
    assert.deepEqual([...await y.toArray()], [9, 10, 0, 0, 0, 0, 1, 2, 0, 0]);
    sum(y).backward();
    assert.deepEqual([...await w.grad!.toArray()], [1, 1, 0, 0, 0, 0, 0, 0, 1, 1]);
    for (const t of [w.grad!, w, i, y]) t.dispose();
  },
);

// Many ids into few rows, so every bucket holds hundreds of positions in scheduling order.
function heavyCase(gpu: Parameters<Parameters<typeof gpuTest>[1]>[0]): { g: Tensor; i: Tensor } {
  const next = rng(5);
  const n = 3001;
  const iv = Int32Array.from({ length: n }, () => Math.floor(next() * 7));
  const gv = Float64Array.from({ length: n * 6 }, () => next() * 2 - 1);
  return {
    g: tensor(gv, [n, 6], { backend: gpu }),
    i: tensor(iv, [n], { dtype: "int32", backend: gpu }),
  };
}

gpuTest(
  "`scatterAddRows()` is bit-for-bit reproducible and matches float64 with heavy repeats",
  async (gpu) => {
    const { g, i } = heavyCase(gpu);
    const a = scatterAddRows(g, i, [7, 6], 0);
    const b = scatterAddRows(g, i, [7, 6], 0);
    const [av, bv] = await Promise.all([a.toArray(), b.toArray()]);
    assert.deepEqual([...av], [...bv]);
    const gc = await toBackend(g, CPU);
    const ic = await toBackend(i, CPU);
    const ref = scatterAddRows(gc, ic, [7, 6], 0);
    assertClose(av, await ref.toArray(), { atol: 1e-4, rtol: 1e-5 }, "scatter-add");
    for (const t of [g, i, a, b, gc, ic, ref]) t.dispose();
  },
);

gpuTest(
  "`embedding()` handles int32 ids on WebGPU with V and D not multiples of 4",
  async (gpu) => {
    const next = rng(3);
    const [v, d] = [1023, 5];
    const wv = Float64Array.from({ length: v * d }, () => next());
    const iv = Int32Array.from({ length: 77 }, (_, k) => (k * 389) % v);
    const check = async (backend: typeof gpu | typeof CPU) => {
      const w = tensor(wv, [v, d], { backend, requiresGrad: true });
      const i = tensor(iv, [7, 11], { dtype: "int32", backend });
      const y = embedding(w, i);
      sum(mul(y, y)).backward();
      const r = { y: await y.toArray(), g: await w.grad!.toArray() };
      for (const t of [w.grad!, w, i, y]) t.dispose();
      return r;
    };
    const [got, ref] = [await check(gpu), await check(CPU)];
    assertClose(got.y, ref.y, { atol: 0, rtol: 1e-6 }, "forward");
    assertClose(got.g, ref.g, { atol: 1e-6, rtol: 1e-5 }, "gradient");
  },
);

// Runs gather forward and backward on both backends (the GPU one optionally under a binding cap)
// and demands identical results: every value is a sum of at most a few small integers.
async function gatherBothWays(
  gpu: Parameters<Parameters<typeof gpuTest>[1]>[0],
  shape: [number, number],
  n: number,
  cap: number,
): Promise<void> {
  const run = async (backend: typeof gpu | typeof CPU) => {
    const values = Float64Array.from({ length: shape[0] * shape[1] }, (_, k) => k % 1009);
    const x = tensor(values, shape, { backend, requiresGrad: true });
    const iv = Int32Array.from({ length: n }, (_, k) => (k * 7919) % shape[0]);
    const i = tensor(iv, [n], { dtype: "int32", backend });
    const body = () => {
      const y = gather(x, i, 0);
      sum(mul(y, 2)).backward();
      return y;
    };
    const y = backend === CPU ? body() : withBindingLimit(cap, body);
    const r = { y: await y.toArray(), g: await x.grad!.toArray() };
    for (const t of [x.grad!, x, i, y]) t.dispose();
    return r;
  };
  const ref = await run(CPU);
  const got = await run(gpu);
  assertClose(got.y, ref.y, { atol: 0, rtol: 0 }, "forward");
  assertClose(got.g, ref.g, { atol: 0, rtol: 0 }, "gradient");
}

gpuTest(
  "`gather()` and its gradient split tensors larger than a binding into windows",
  async (gpu) => {
    await gatherBothWays(gpu, [300, 8], 200, 1024);
    await gatherBothWays(gpu, [301, 3], 200, 1024);
  },
);

gpuTest(
  "`gather()` and its gradient split more than 65,535 wide rows over several launches",
  async (gpu) => {
    await gatherBothWays(gpu, [70001, 65], 66000, Infinity);
  },
);

// Order-sensitive float32 values (big terms cancel and swallow small ones), so only the
// ascending-position sum reproduces the expected bits: the bucket sort is what guarantees it.
gpuTest("`scatterAddRows()` sums each row's sources in ascending position order", async (gpu) => {
  const n = 40000;
  const next = rng(11);
  const iv = Int32Array.from({ length: n }, () => Math.floor(next() * 3));
  const gv = Float32Array.from(
    { length: n },
    (_, k) => (k % 3 === 0 ? (next() - 0.5) * 1e8 : next()),
  );
  const expected = new Float32Array(3);
  for (let j = 0; j < n; j++) expected[iv[j]] = Math.fround(expected[iv[j]] + gv[j]);
  const g = tensor(gv, [n, 1], { backend: gpu });
  const i = tensor(iv, [n], { dtype: "int32", backend: gpu });
  const out = scatterAddRows(g, i, [3, 1], 0);
  assert.deepEqual([...await out.toArray()], [...expected]);
  for (const t of [g, i, out]) t.dispose();
});

// No tidy scope here: it would dispose leaked intermediates and hide them.
gpuTest("the gather family frees every intermediate it creates", async (gpu) => {
  const before = liveTensorCount();
  const w = tensor(Float64Array.from({ length: 30 }, (_, k) => k), [6, 5], {
    backend: gpu,
    requiresGrad: true,
  });
  const i = tensor([4, 0, 4, 2, 1, 3], [6], { dtype: "int32", backend: gpu });
  const made: Tensor[] = [];
  const keep = (t: Tensor): Tensor => {
    made.push(t);
    return t;
  };
  const strided = keep(slice(i, [1], [4]));
  const e = keep(embedding(w, keep(slice(i, [0], [3]))));
  const c = keep(concat([e, keep(transpose(keep(gather(w, strided, 1))))], 1));
  const picks = [
    keep(selectAt(keep(transpose(w)), keep(slice(i, [0], [5])))),
    keep(selectAt(w, i)),
  ];
  keep(argmax(c));
  const loss = keep(
    add(keep(sum(keep(stack([c, c], 1)))), keep(add(keep(sum(picks[0])), keep(sum(picks[1]))))),
  );
  loss.backward();
  await w.grad!.toArray();
  for (const t of [...made, w.grad!, w, i]) t.dispose();
  assert.equal(liveTensorCount(), before);
});
