import { throws as assertThrows } from "node:assert/strict";
import { assertClose } from "../../../_check.ts";
import { gpuTest } from "../../../_gpu.ts";
import { rng, tensor } from "../../../../engine/ops/creation.ts";
import { slice } from "../../../../engine/ops/view.ts";
import {
  cholesky64,
  solve64,
  transpose64,
} from "../../../../malmen/algorithm/linalg/cholesky64.ts";
import { factorGpu, solveGpu } from "../../../../malmen/algorithm/linalg/cholesky_gpu.ts";

// A Gram matrix KᵀK of k random rows (rank-deficient when k < n) and right-hand sides.
function gram(n: number, k: number, seed: number): Float64Array {
  const next = rng(seed);
  const rows = Float64Array.from({ length: k * n }, () => 2 * next() - 1);
  const m = new Float64Array(n * n);
  for (let r = 0; r < k; r++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) m[i * n + j] += rows[r * n + i] * rows[r * n + j];
    }
  }
  return m;
}

function shifted(m: Float64Array, n: number, lam: number): Float64Array {
  const s = m.slice();
  for (let i = 0; i < n; i++) s[i * n + i] += lam;
  return s;
}

function rhs(n: number, m: number, seed: number): Float64Array {
  const next = rng(seed);
  return Float64Array.from({ length: n * m }, () => 2 * next() - 1);
}

function matmul64(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number) {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p];
      for (let j = 0; j < m; j++) out[i * m + j] += x * b[p * m + j];
    }
  }
  return out;
}

// Orders on both sides of the 64-wide tiles.
for (const n of [1, 5, 64, 70, 131]) {
  Deno.test(`\`cholesky64()\` factors an order-${n} Gram matrix with L·Lᵀ = M`, () => {
    const m = shifted(gram(n, Math.ceil(n / 2), n), n, 0.5);
    const f = cholesky64(m, n);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) if (f.l[i * n + j] !== 0) throw new Error("L is not lower");
    }
    assertClose(matmul64(f.l, f.u, n, n, n), m, { atol: 1e-12, rtol: 1e-12 }, "L·Lᵀ");
    assertClose(f.u, transpose64(f.l, n, n), { atol: 0, rtol: 0 }, "U = Lᵀ");
    const b = rhs(n, 3, 2);
    const x = solve64(f, b, 3);
    assertClose(matmul64(m, x, n, n, 3), b, { atol: 1e-11, rtol: 1e-11 }, "M·X");
  });
}

Deno.test("`cholesky64()` names the failing pivot of an indefinite matrix", () => {
  const m = Float64Array.from([4, 2, 0, 2, 1, 0, 0, 0, 3]); // singular leading 2×2 block
  assertThrows(() => cholesky64(m, 3), /not positive definite: pivot 1 is 0/);
  assertThrows(() => cholesky64(new Float64Array(5), 2), /Cannot factor 5 values/);
});

for (const [n, m] of [[5, 1], [70, 5], [131, 67], [300, 7]]) {
  gpuTest(
    `\`factorGpu()\` and \`solveGpu()\` of order ${n} with ${m} right-hand sides match float64`,
    async (gpu) => {
      const g = gram(n, Math.ceil(n / 2), n);
      const b = rhs(n, m, 4);
      const ref = solve64(cholesky64(shifted(g, n, 0.75), n), b, m);
      const f = factorGpu(tensor(g, [n, n], { backend: gpu }), 0.75);
      const got = await solveGpu(f, tensor(b, [n, m], { backend: gpu })).toArray();
      assertClose(got, ref, { atol: 1e-4, rtol: 1e-3 }, "X");
      // λ read on the device from a log-domain tensor.
      const lamHat = tensor([0, Math.log(0.75)], [2], { backend: gpu });
      const view = { lamHat: slice(lamHat, [1], [2]) };
      const f2 = factorGpu(tensor(g, [n, n], { backend: gpu }), view);
      assertClose(await solveGpu(f2, tensor(b, [n, m], { backend: gpu })).toArray(), ref, {
        atol: 1e-4,
        rtol: 1e-3,
      }, "X (λ̂)");
      f.l.dispose();
      f2.l.dispose();
    },
  );
}

gpuTest("`factorGpu()` turns an indefinite matrix into NaN instead of garbage", async (gpu) => {
  const m = tensor([1, 2, 2, 1], [2, 2], { backend: gpu });
  const f = factorGpu(m, 0);
  const x = await solveGpu(f, tensor([1, 1], [2, 1], { backend: gpu })).toArray();
  if (!x.some((v) => Number.isNaN(v))) throw new Error(`expected NaN, got ${x}`);
  f.l.dispose();
});
