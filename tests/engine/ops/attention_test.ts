import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { assertClose, checkOp, type Tol } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type AttentionImpl, causalAttention } from "../../../engine/ops/attention.ts";
import { matmul } from "../../../engine/ops/matmul.ts";
import { add, div, exp, mul, sub } from "../../../engine/ops/elementwise.ts";
import { max, sum } from "../../../engine/ops/reduce.ts";
import { permute, reshape, slice, transpose } from "../../../engine/ops/view.ts";
import { view } from "../../../engine/ops/copy.ts";
import { rng, tensor } from "../../../engine/ops/creation.ts";
import { noGrad, record } from "../../../engine/autograd.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { type Shape, sizeOf } from "../../../engine/shape.ts";
import { liveTensorCount, type Tensor } from "../../../engine/tensor.ts";
import { tidy } from "../../../engine/scope.ts";

const attend = (impl?: AttentionImpl) => ([q, k, v]: Tensor[]): Tensor =>
  causalAttention(q, k, v, { impl });

checkOp({
  name: "`causalAttention()` of odd shapes",
  inputs: [[2, 3, 7, 5], [2, 3, 7, 5], [2, 3, 7, 5]],
  fn: attend(),
});
checkOp({
  name: "`causalAttention()` of one position",
  inputs: [[2, 2, 1, 4], [2, 2, 1, 4], [2, 2, 1, 4]],
  fn: attend(),
});
checkOp({
  name: "`causalAttention()` with hd = 6",
  inputs: [[1, 2, 9, 6], [1, 2, 9, 6], [1, 2, 9, 6]],
  fn: attend(),
});
checkOp({
  name: "`causalAttention()` across 33 positions",
  inputs: [[1, 1, 33, 4], [1, 1, 33, 4], [1, 1, 33, 4]],
  fn: attend(),
});
checkOp({
  name: "`causalAttention()` composed path of odd shapes",
  inputs: [[2, 3, 7, 5], [2, 3, 7, 5], [2, 3, 7, 5]],
  fn: attend("composed"),
});
checkOp({
  name: "`causalAttention()` reads an upstream gradient through a transposed view",
  inputs: [[2, 2, 6, 4], [2, 2, 6, 4], [2, 2, 6, 4]],
  fn: (xs) => transpose(attend()(xs), 1, 2),
});

// Drops dimension `dim` (size 1) of a strided view without copying, with its gradient; the
// engine's reshape copies non-contiguous views.
function squeezeView(x: Tensor, dim: number): Tensor {
  const shape = x.shape.filter((_, i) => i !== dim);
  const out = view(x, shape, x.strides.filter((_, i) => i !== dim), x.offset);
  return record(out, "squeezeView", [x], (g) => [reshape(g, x.shape)]);
}

// q, k or v (`i`) as a GPT's fused projection yields it: a strided [B, H, T, hd] view of one
// [B, T, 3, H, hd] tensor.
function pick(qkv: Tensor, i: number): Tensor {
  const [b, t, , h, hd] = qkv.shape;
  const part = slice(qkv, [0, 0, i], [b, t, i + 1]);
  const y = squeezeView(permute(part, [0, 2, 3, 1, 4]), 1);
  assert(!y.isContiguous && fmtEq(y.shape, [b, h, t, hd]));
  return y;
}

function fmtEq(a: Shape, b: Shape): boolean {
  return a.join() === b.join();
}

checkOp({
  name: "`causalAttention()` reads q, k, v as strided views of one qkv tensor (read in place)",
  inputs: [[2, 9, 3, 2, 8]],
  fn: ([qkv]) => causalAttention(pick(qkv, 0), pick(qkv, 1), pick(qkv, 2)),
});
checkOp({
  name:
    "`causalAttention()` reads q, k, v as strided views of one qkv tensor (copied to padded rows)",
  inputs: [[2, 6, 3, 3, 5]],
  fn: ([qkv]) => causalAttention(pick(qkv, 0), pick(qkv, 1), pick(qkv, 2)),
});

function randomValues(shape: Shape, seed: number, scale = 2): Float64Array {
  const next = rng(seed);
  return Float64Array.from({ length: sizeOf(shape) }, () => (2 * next() - 1) * scale);
}

interface Run {
  out: ArrayLike<number>;
  grads: ArrayLike<number>[];
}

// Forward and the gradients of sum(out · w) on one backend.
async function runAttention(
  values: Float64Array[],
  shape: Shape,
  backend: Backend,
  fn: (q: Tensor, k: Tensor, v: Tensor) => Tensor = (q, k, v) => causalAttention(q, k, v),
): Promise<Run> {
  const xs = values.map((v) => tensor(v, shape, { backend, requiresGrad: true }));
  const out = tidy(() => {
    const y = fn(xs[0], xs[1], xs[2]);
    const w = tensor(randomValues(y.shape, 99, 1), y.shape, { backend });
    sum(mul(y, w)).backward();
    return y;
  });
  const result = {
    out: await out.toArray(),
    grads: await Promise.all(xs.map((x) => x.grad!.toArray())),
  };
  for (const x of xs) {
    x.grad!.dispose();
    x.dispose();
  }
  out.dispose();
  return result;
}

function compareRuns(got: Run, ref: Run, fwd: Tol, grad: Tol): void {
  assertClose(got.out, ref.out, fwd, "forward");
  got.grads.forEach((g, i) => assertClose(g, ref.grads[i], grad, `${"qkv"[i]} gradient`));
}

// The reference the fused op must equal: matmul, an additive causal mask, a max-shifted softmax
// from elementwise ops and reductions, and matmul.
function composedReference(q: Tensor, k: Tensor, v: Tensor): Tensor {
  const [, , t, hd] = q.shape;
  const mask = tensor(
    Float64Array.from({ length: t * t }, (_, n) => (n % t > Math.floor(n / t) ? -1e9 : 0)),
    [t, t],
    {
      backend: q.backend,
    },
  );
  const s = add(mul(matmul(q, k, { transB: true }), 1 / Math.sqrt(hd)), mask);
  const e = exp(sub(s, noGrad(() => max(s, -1, { keepDims: true }))));
  return matmul(div(e, sum(e, -1, { keepDims: true })), v);
}

Deno.test("`causalAttention()` equals matmul + mask + softmax on the float64 backend", async () => {
  const shape = [2, 3, 11, 6];
  const values = [1, 2, 3].map((s) => randomValues(shape, s));
  const ref = await runAttention(values, shape, CPU, composedReference);
  const tight = { atol: 1e-12, rtol: 1e-12 };
  compareRuns(await runAttention(values, shape, CPU), ref, tight, tight);
  compareRuns(
    await runAttention(
      values,
      shape,
      CPU,
      (q, k, v) => causalAttention(q, k, v, { impl: "composed" }),
    ),
    ref,
    tight,
    tight,
  );
});

// Output rows before `t0` must not move, bit for bit, when key and value `t0` change.
async function assertCausal(backend: Backend, impl: AttentionImpl): Promise<void> {
  const shape = [2, 2, 37, 8];
  const [b, h, t, hd] = shape;
  const t0 = 21;
  const values = [1, 2, 3].map((s) => randomValues(shape, s));
  const changed = values.map((v, i) => {
    if (i === 0) return v;
    const c = v.slice();
    for (let z = 0; z < b * h; z++) for (let d = 0; d < hd; d++) c[(z * t + t0) * hd + d] += 3 + d;
    return c;
  });
  const before = await runAttention(
    values,
    shape,
    backend,
    (q, k, v) => causalAttention(q, k, v, { impl }),
  );
  const after = await runAttention(
    changed,
    shape,
    backend,
    (q, k, v) => causalAttention(q, k, v, { impl }),
  );
  let movedAtT0 = false;
  for (let z = 0; z < b * h; z++) {
    for (let i = 0; i < t; i++) {
      for (let d = 0; d < hd; d++) {
        const n = (z * t + i) * hd + d;
        if (i < t0) {
          assertEquals(after.out[n], before.out[n], `output row ${i} moved`);
          assertEquals(after.grads[0][n], before.grads[0][n], `q gradient row ${i} moved`);
        } else if (i === t0 && after.out[n] !== before.out[n]) movedAtT0 = true;
      }
    }
  }
  assert(movedAtT0, "changing key/value t0 did not change output row t0");
}

Deno.test("`causalAttention()` keeps earlier rows exactly when a future key and value change (float64)", async () => {
  await assertCausal(CPU, "fused");
});
gpuTest(
  "`causalAttention()` keeps earlier rows exactly when a future key and value change (fused)",
  async (gpu) => {
    await assertCausal(gpu, "fused");
  },
);

// GPU vs float64 on shapes too large for finite differences: several row blocks and the
// unmasked sweep, each head capacity (shapes keep LLVM's cold compile short: it grows steeply
// with the registers a kernel holds), and the composed path.
const FWD: Tol = { atol: 2e-5, rtol: 1e-3 };
const GRAD: Tol = { atol: 2e-4, rtol: 1e-3 };
const larger: [string, Shape, AttentionImpl][] = [
  ["70 positions and hd 32 (the training kernels)", [2, 2, 70, 32], "fused"],
  ["150 positions and hd 8", [1, 2, 150, 8], "fused"],
  ["13 positions and hd 64", [1, 2, 13, 64], "fused"],
  ["7 positions and hd 128", [1, 1, 7, 128], "fused"],
  ["45 positions and hd 13", [1, 3, 45, 13], "fused"],
  ["70 positions and hd 32 on the composed path", [2, 2, 70, 32], "composed"],
];
for (const [label, shape, impl] of larger) {
  gpuTest(`\`causalAttention()\` matches the float64 reference at ${label}`, async (gpu) => {
    const values = [1, 2, 3].map((s) => randomValues(shape, s));
    const fn = (q: Tensor, k: Tensor, v: Tensor): Tensor => causalAttention(q, k, v, { impl });
    const got = await runAttention(values, shape, gpu, fn);
    compareRuns(got, await runAttention(values, shape, CPU, fn), FWD, GRAD);
  });
}

gpuTest(
  "`causalAttention()` copies misaligned views of a 4-aligned head into vec4 rows",
  async (gpu) => {
    // Slicing hd = 32 out of rows of 33 leaves offsets and strides that vec4 loads cannot use.
    const wide = [1, 2, 40, 33];
    const values = [1, 2, 3].map((s) => randomValues(wide, s));
    const cut = (x: Tensor): Tensor => slice(x, [0, 0, 0, 1]);
    const fn = (q: Tensor, k: Tensor, v: Tensor): Tensor => causalAttention(cut(q), cut(k), cut(v));
    const got = await runAttention(values, wide, gpu, fn);
    compareRuns(got, await runAttention(values, wide, CPU, fn), FWD, GRAD);
  },
);

gpuTest(
  "`causalAttention()` stays finite and matches the reference for large-magnitude scores",
  async (gpu) => {
    const shape = [1, 2, 19, 8];
    // Scores of order ±1e4: the softmax is nearly one-hot and naive exponentials overflow.
    const values = [randomValues(shape, 1, 60), randomValues(shape, 2, 60), randomValues(shape, 3)];
    const got = await runAttention(values, shape, gpu);
    const ref = await runAttention(values, shape, CPU);
    for (const a of [got.out, ...got.grads]) {
      assert(
        Array.from(a).every(Number.isFinite),
        "non-finite value",
      );
    }
    assertClose(got.out, ref.out, { atol: 1e-3, rtol: 1e-3 }, "forward");
    got.grads.forEach((g, i) =>
      assertClose(g, ref.grads[i], { atol: 2e-2, rtol: 1e-2 }, `${"qkv"[i]} gradient`)
    );
  },
);

gpuTest(
  "`causalAttention()` computes only the query gradient when keys and values are constants",
  async (gpu) => {
    const shape = [1, 2, 12, 8];
    const values = [1, 2, 3].map((s) => randomValues(shape, s));
    const grads = await Promise.all([gpu, CPU].map(async (backend) => {
      const [q, k, v] = values.map((x, i) => tensor(x, shape, { backend, requiresGrad: i === 0 }));
      tidy(() => sum(causalAttention(q, k, v)).backward());
      assert(k.grad === null && v.grad === null);
      const g = await q.grad!.toArray();
      for (const x of [q.grad!, q, k, v]) x.dispose();
      return g;
    }));
    assertClose(grads[0], grads[1], { atol: 1e-4, rtol: 1e-3 }, "q gradient");
  },
);

gpuTest("`causalAttention()` forward and backward leave no tensors behind", async (gpu) => {
  const shape = [2, 2, 10, 8];
  const xs = [1, 2, 3].map((s) =>
    tensor(randomValues(shape, s), shape, { backend: gpu, requiresGrad: true })
  );
  const before = liveTensorCount();
  tidy(() => sum(causalAttention(xs[0], xs[1], xs[2])).backward());
  const out = noGrad(() => causalAttention(xs[0], xs[1], xs[2]));
  out.dispose();
  for (const x of xs) x.grad!.dispose();
  assertEquals(liveTensorCount(), before);
  for (const x of xs) x.dispose();
  await gpu.dispatcher.sync();
});

Deno.test("`causalAttention()` names the three shapes when they differ", () => {
  const a = tensor(randomValues([1, 2, 5, 4], 1), [1, 2, 5, 4], { backend: CPU });
  const b = tensor(randomValues([1, 2, 6, 4], 2), [1, 2, 6, 4], { backend: CPU });
  assertThrows(() => causalAttention(a, b, a), {
    name: "RangeError",
    message: 'Cannot attend with q "[1,2,5,4]", k "[1,2,6,4]" and v "[1,2,5,4]": shapes differ',
  });
});

Deno.test("`causalAttention()` rejects inputs that are not [B, H, T, hd]", () => {
  const x = tensor(randomValues([2, 5, 4], 1), [2, 5, 4], { backend: CPU });
  assertThrows(() => causalAttention(x, x, x), {
    name: "RangeError",
    message: 'causalAttention() needs [B, H, T, hd] inputs, got q of shape "[2,5,4]"',
  });
});

Deno.test("`causalAttention()` rejects int32 inputs", () => {
  const f = tensor(randomValues([1, 1, 2, 2], 1), [1, 1, 2, 2], { backend: CPU });
  const i = tensor([1, 2, 3, 4], [1, 1, 2, 2], { backend: CPU, dtype: "int32" });
  assertThrows(() => causalAttention(f, f, i), {
    name: "TypeError",
    message: "causalAttention() needs float tensors, got v of dtype int32",
  });
});

Deno.test("`causalAttention()` rejects an unknown implementation and heads too large to fuse", () => {
  const x = tensor(randomValues([1, 1, 2, 2], 1), [1, 1, 2, 2], { backend: CPU });
  assertThrows(() => causalAttention(x, x, x, { impl: "flash" as AttentionImpl }), {
    name: "TypeError",
    message: 'Unknown attention implementation "flash"',
  });
  const big = tensor(new Float64Array(2 * 129), [1, 1, 2, 129], { backend: CPU });
  assertThrows(() => causalAttention(big, big, big, { impl: "fused" }), {
    name: "RangeError",
    message: 'Cannot run fused attention on head size 129 of "[1,1,2,129]": the limit is 128',
  });
});

Deno.test("`causalAttention()` falls back to the composed path for heads above 128", async () => {
  const shape = [1, 1, 3, 129];
  const values = [1, 2, 3].map((s) => randomValues(shape, s, 0.2));
  const tight = { atol: 1e-12, rtol: 1e-12 };
  compareRuns(
    await runAttention(values, shape, CPU),
    await runAttention(values, shape, CPU, composedReference),
    tight,
    tight,
  );
});

gpuTest("`causalAttention()` rejects tensors on different backends", (gpu) => {
  const shape = [1, 1, 2, 2];
  const a = tensor([1, 2, 3, 4], shape, { backend: CPU });
  const b = tensor([1, 2, 3, 4], shape, { backend: gpu });
  assertThrows(() => causalAttention(a, b, a), {
    name: "TypeError",
    message: "causalAttention() got tensors on different backends",
  });
});
