import assert from "node:assert/strict";
import { assertClose, checkOp } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { rng, tensor, zeros } from "../../../engine/ops/creation.ts";
import { add, div, mul, neg } from "../../../engine/ops/elementwise.ts";
import { sum } from "../../../engine/ops/reduce.ts";
import { permute, reshape, slice, transpose } from "../../../engine/ops/view.ts";
import { argmax, indexEqual, selectAt } from "../../../engine/ops/gather.ts";
import { withBindingLimit } from "../../../engine/ops/windows.ts";

const idx = (values: number[]) => ({ shape: [values.length], values, int: true });

checkOp({
  name: "`selectAt()` picks one element per row of odd shapes",
  inputs: [[7, 11], idx([10, 0, 3, 3, 5, 9, 1])],
  fn: ([x, i]) => selectAt(x, i),
});
checkOp({
  name: "`selectAt()` picks from a transposed view",
  inputs: [[11, 7], idx([10, 0, 3, 3, 5, 9, 1])],
  fn: ([x, i]) => selectAt(transpose(x), i),
});
checkOp({
  name: "`selectAt()` gives a vec4 one-hot gradient when V is a multiple of 4",
  inputs: [[5, 12], idx([11, 0, 4, 7, 7])],
  fn: ([x, i]) => selectAt(x, i),
});

Deno.test("`selectAt()` rejects bad shapes and names an out-of-range index on the CPU", () => {
  const x = zeros([3, 4], { backend: CPU });
  const short = tensor([0, 1], [2], { dtype: "int32", backend: CPU });
  assert.throws(
    () => selectAt(x, short),
    /selectAt\(\) needs indices "\[3\]" for "\[3,4\]", got "\[2\]"/,
  );
  const floats = tensor([0, 1, 2], [3], { backend: CPU });
  assert.throws(() => selectAt(x, floats), /selectAt\(\) needs int32 indices, got float32/);
  const flat = zeros([12], { backend: CPU });
  const i = tensor([0, 4, 1], [3], { dtype: "int32", backend: CPU });
  assert.throws(
    () => selectAt(flat, i),
    /selectAt\(\) needs a float "\[N,V\]" tensor, got float32 "\[12\]"/,
  );
  assert.throws(
    () => selectAt(x, i),
    /selectAt\(\) index 4 at position \[1\] of indices "\[3\]" is out of range for the 4 columns of "\[3,4\]"/,
  );
});

gpuTest("`selectAt()` on WebGPU gives 0 and no gradient for out-of-range indices", async (gpu) => {
  const x = tensor([[1, 2, 3], [4, 5, 6]], undefined, { backend: gpu, requiresGrad: true });
  const i = tensor([3, 2], [2], { dtype: "int32", backend: gpu });
  const y = selectAt(x, i);
  assert.deepEqual([...await y.toArray()], [0, 6]);
  sum(y).backward();
  assert.deepEqual([...await x.grad!.toArray()], [0, 0, 0, 0, 0, 1]);
  for (const t of [x.grad!, x, i, y]) t.dispose();
});

gpuTest(
  "`selectAt()` and its gradient split a tensor larger than a binding into windows",
  async (gpu) => {
    const run = async (backend: Backend, cap: number) => {
      const next = rng(4);
      const x = tensor(Float64Array.from({ length: 300 * 16 }, () => next()), [300, 16], {
        backend,
        requiresGrad: true,
      });
      const i = tensor(Int32Array.from({ length: 300 }, (_, k) => (k * 7) % 16), [300], {
        dtype: "int32",
        backend,
      });
      const y = withBindingLimit(cap, () => {
        const s = selectAt(x, i);
        sum(s).backward();
        return s;
      });
      const r = { y: await y.toArray(), g: await x.grad!.toArray() };
      for (const t of [x.grad!, x, i, y]) t.dispose();
      return r;
    };
    const ref = await run(CPU, Infinity);
    const got = await run(gpu, 1024);
    assertClose(got.y, ref.y, { atol: 1e-7, rtol: 1e-6 }, "forward");
    assertClose(got.g, ref.g, { atol: 0, rtol: 0 }, "gradient");
  },
);

// argmax: exact results, identical on both backends.
async function argmaxBoth(
  gpu: Backend | null,
  values: ArrayLike<number>,
  shape: number[],
  axis?: number,
): Promise<Int32Array[]> {
  const backends: Backend[] = gpu ? [CPU, gpu] : [CPU];
  const out: Int32Array[] = [];
  for (const b of backends) {
    const x = tensor(values, shape, { backend: b });
    const y = argmax(x, axis);
    assert.equal(y.dtype, "int32");
    out.push((await y.toArray()) as Int32Array);
    x.dispose();
    y.dispose();
  }
  return out;
}

function tieCase(): { values: number[]; expected: number[] } {
  return {
    values: [1, 3, 3, 2, 5, 5, 5, 5, -1, -2, -1, -3, -Infinity, -Infinity, -Infinity, -Infinity],
    expected: [1, 0, 0, 0],
  };
}

Deno.test("`argmax()` gives the first index of ties on the CPU", async () => {
  const { values, expected } = tieCase();
  const [cpu] = await argmaxBoth(null, values, [4, 4]);
  assert.deepEqual([...cpu], expected);
});

gpuTest("`argmax()` gives the first index of ties on WebGPU", async (gpu) => {
  const { values, expected } = tieCase();
  const [cpu, got] = await argmaxBoth(gpu, values, [4, 4]);
  assert.deepEqual([...cpu], expected);
  assert.deepEqual([...got], expected);
});

gpuTest("`argmax()` breaks ties to the first index in long rows on both backends", async (gpu) => {
  const len = 1001;
  const values = new Float64Array(3 * len).fill(-7);
  values[700] = 4;
  values[300] = 4;
  values[301] = 3.999;
  values[len + 1000] = 9;
  values[len + 999] = 8;
  for (let k = 0; k < len; k += 2) values[2 * len + k] = 1; // ties at every even index
  const [cpu, got] = await argmaxBoth(gpu, values, [3, len]);
  assert.deepEqual([...cpu], [300, 1000, 0]);
  assert.deepEqual([...got], [300, 1000, 0]);
});

gpuTest("`argmax()` skips NaN in short and long rows on both backends", async (gpu) => {
  for (const len of [5, 600]) {
    const values = new Float64Array(3 * len).fill(NaN);
    values[1] = -1;
    values[3] = 2; // row 0: NaN, -1, NaN, 2, NaN, ...
    // row 1 is all NaN
    values[2 * len + len - 1] = -Infinity; // row 2: only -Infinity at the end
    const [cpu, got] = await argmaxBoth(gpu, values, [3, len]);
    assert.deepEqual([...cpu], [3, 0, len - 1], `CPU, rows of ${len}`);
    assert.deepEqual([...got], [3, 0, len - 1], `WebGPU, rows of ${len}`);
  }
});

gpuTest("`argmax()` reduces leading, middle and last axes of views like the CPU", async (gpu) => {
  const next = rng(8);
  const shape = [5, 7, 9];
  // Small integers make ties common.
  const values = Array.from({ length: 5 * 7 * 9 }, () => Math.floor(next() * 4));
  for (const axis of [0, 1, 2, -1]) {
    const [cpu, got] = await argmaxBoth(gpu, values, shape, axis);
    assert.deepEqual([...got], [...cpu], `axis ${axis}`);
  }
  const x = tensor(values, shape, { backend: gpu });
  const xc = tensor(values, shape, { backend: CPU });
  const y = argmax(permute(x, [2, 0, 1]), 1);
  const yc = argmax(permute(xc, [2, 0, 1]), 1);
  assert.deepEqual(y.shape, [9, 7]);
  assert.deepEqual([...await y.toArray()], [...await yc.toArray()]);
  for (const t of [x, xc, y, yc]) t.dispose();
});

gpuTest("`argmax()` of a 1-D tensor and of rows split over binding windows", async (gpu) => {
  const [cpu, got] = await argmaxBoth(gpu, [3, 9, 2, 9], [4]);
  assert.deepEqual([...cpu], [1]);
  assert.deepEqual([...got], [1]);
  const next = rng(2);
  const values = Float32Array.from({ length: 200 * 700 }, () => next());
  const x = tensor(values, [200, 700], { backend: gpu });
  const xc = tensor(values, [200, 700], { backend: CPU });
  const y = withBindingLimit(8192, () => argmax(x));
  const yc = argmax(xc);
  assert.deepEqual([...await y.toArray()], [...await yc.toArray()]);
  for (const t of [x, xc, y, yc]) t.dispose();
});

Deno.test("`argmax()` rejects empty axes and int tensors", () => {
  assert.throws(
    () => argmax(zeros([3, 0], { backend: CPU })),
    /argmax\(\) over the empty axis 1 of "\[3,0\]"/,
  );
  assert.throws(
    () => argmax(zeros([3], { dtype: "int32", backend: CPU })),
    /argmax\(\) needs a float tensor, got int32 of shape "\[3\]"/,
  );
  assert.throws(
    () => argmax(zeros([3], { backend: CPU }), 1),
    /Axis "1" is out of range for rank 1/,
  );
});

for (const kind of ["cpu", "webgpu"] as const) {
  const register = kind === "cpu"
    ? (name: string, fn: (b: Backend) => Promise<void>) => Deno.test(name, () => fn(CPU))
    : gpuTest;
  register(`\`indexEqual()\` with \`argmax()\` gives token accuracy on ${kind}`, async (b) => {
    const logits = tensor([[0, 2, 1], [5, 1, 5], [0, 0, 3], [1, 0, 0], [2, 9, 1]], undefined, {
      backend: b,
    });
    const targets = tensor([1, 2, 2, -100, 0], [5], { dtype: "int32", backend: b });
    const hits = indexEqual(argmax(logits), targets); // [1, 0, 1, 0, 0]
    const valid = add(neg(indexEqual(targets, -100)), 1); // [1, 1, 1, 0, 1]
    const acc = div(sum(mul(hits, valid)), sum(valid));
    assert.deepEqual([...await hits.toArray()], [1, 0, 1, 0, 0]);
    assert.deepEqual([...await valid.toArray()], [1, 1, 1, 0, 1]);
    assert.equal(await acc.item(), 0.5);
    const strided = slice(reshape(targets, [5, 1]), [1, 0], [5, 1]);
    const same = indexEqual(strided, slice(reshape(targets, [5, 1]), [1, 0], [5, 1]));
    assert.deepEqual([...await same.toArray()], [1, 1, 1, 1]);
    for (const t of [logits, targets, hits, valid, acc, strided, same]) t.dispose();
  });
}

Deno.test("`indexEqual()` rejects float tensors, other shapes and fractional values", () => {
  const a = tensor([1, 2], [2], { dtype: "int32", backend: CPU });
  const c = tensor([1, 2, 3], [3], { dtype: "int32", backend: CPU });
  const f = tensor([1, 2], [2], { backend: CPU });
  assert.throws(() => indexEqual(f, a), /indexEqual\(\) needs int32 values, got float32/);
  assert.throws(() => indexEqual(a, c), /Cannot compare "\[2\]" with "\[3\]"/);
  assert.throws(
    () => indexEqual(a, 1.5),
    /indexEqual\(\) needs an integer to compare with, got 1.5/,
  );
});
