import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { assertClose, checkOp } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { matmul, setMatmulTiling } from "../../../engine/ops/matmul.ts";
import { slice, transpose } from "../../../engine/ops/view.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { matmulInto } from "../../../engine/ops/matmul_raw.ts";
import { hardwareMatmulConfigFor, matmulConfigFor } from "../../../kernels/matmul.ts";
import { tensor } from "../../../engine/ops/creation.ts";

checkOp({
  name: "`matmul()` NN of odd shapes",
  inputs: [[7, 13], [13, 5]],
  fn: ([a, b]) => matmul(a, b),
});
checkOp({
  name: "`matmul()` NT of odd shapes",
  inputs: [[7, 13], [5, 13]],
  fn: ([a, b]) => matmul(a, b, { transB: true }),
});
checkOp({
  name: "`matmul()` TN of odd shapes",
  inputs: [[13, 7], [13, 5]],
  fn: ([a, b]) => matmul(a, b, { transA: true }),
});
checkOp({
  name: "`matmul()` TT of odd shapes",
  inputs: [[13, 7], [5, 13]],
  fn: ([a, b]) => matmul(a, b, { transA: true, transB: true }),
});
checkOp({
  name: "`matmul()` batched NN",
  inputs: [[3, 5, 6], [3, 6, 4]],
  fn: ([a, b]) => matmul(a, b),
});
checkOp({
  name: "`matmul()` batched NT with 4-aligned sizes",
  inputs: [[2, 8, 12], [2, 4, 12]],
  fn: ([a, b]) => matmul(a, b, { transB: true }),
});
checkOp({
  name: "`matmul()` shares a 2-D weight over a batch",
  inputs: [[2, 3, 9], [9, 5]],
  fn: ([a, b]) => matmul(a, b),
});
checkOp({
  name: "`matmul()` shares a 2-D left matrix over a batch",
  inputs: [[4, 6], [3, 6, 5]],
  fn: ([a, b]) => matmul(a, b),
});
checkOp({
  name: "`matmul()` reads transposed views without copies",
  inputs: [[13, 7], [5, 13]],
  fn: ([a, b]) => matmul(transpose(a), transpose(b)),
});
checkOp({
  name: "`matmul()` reads sliced views",
  inputs: [[9, 10], [10, 6]],
  fn: ([a, b]) => matmul(slice(a, [1, 2], [8, 9]), slice(b, [2, 0], [9, 6])),
});
checkOp({
  name: "`matmul()` handles a vector-shaped product",
  inputs: [[1, 17], [17, 1]],
  fn: ([a, b]) => matmul(a, b),
});
checkOp({
  name: "`matmul()` of larger odd shapes",
  inputs: [[65, 129], [129, 67]],
  fn: ([a, b]) => matmul(a, b),
  fwd: { atol: 1e-4, rtol: 1e-3 },
  grad: { atol: 1e-3, rtol: 1e-3 },
  noGrad: true,
});

gpuTest("`matmul()` is exact on small integers", async (gpu) => {
  const m = 37, k = 45, n = 29;
  const av = Array.from({ length: m * k }, (_, i) => ((i * 7) % 11) - 5);
  const bv = Array.from({ length: k * n }, (_, i) => ((i * 5) % 9) - 4);
  const ref = await matmul(
    tensor(av, [m, k], { backend: CPU }),
    tensor(bv, [k, n], { backend: CPU }),
  ).toArray();
  const got = await matmul(
    tensor(av, [m, k], { backend: gpu }),
    tensor(bv, [k, n], { backend: gpu }),
  ).toArray();
  assertEquals(Array.from(got), Array.from(ref));
});

gpuTest("`matmul()` matches the reference at N = 256 with K-scaled tolerance", async (gpu) => {
  const n = 256;
  const v = Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.37));
  const w = Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.11));
  const ref = await matmul(tensor(v, [n, n], { backend: CPU }), tensor(w, [n, n], { backend: CPU }))
    .toArray();
  const got = await matmul(tensor(v, [n, n], { backend: gpu }), tensor(w, [n, n], { backend: gpu }))
    .toArray();
  assertClose(got, ref, { atol: 1e-4 * Math.sqrt(n), rtol: 1e-3 }, "N=256");
});

gpuTest(
  "`matmul()` with 32×64 tiles (every dimension ≥ 1024) is exact on small integers",
  async (gpu) => {
    // Partial 128×128 blocks in M and N; the same pipeline as the N = 1024 benchmark.
    const [m, n, k] = [1056, 1088, 1028];
    assertEquals(matmulConfigFor(m, n, k, false, false).tn, 64);
    const av = Array.from({ length: m * k }, (_, i) => ((i * 7) % 11) - 5);
    const bv = Array.from({ length: k * n }, (_, i) => ((i * 5) % 9) - 4);
    const got = await matmul(
      tensor(av, [m, k], { backend: gpu }),
      tensor(bv, [k, n], { backend: gpu }),
    )
      .toArray();
    // Integer sums below 2^24 are exact in float32: compare with an exact host product.
    const ref = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const a = av[i * k + p];
        if (a === 0) continue;
        for (let j = 0; j < n; j++) ref[i * n + j] += a * bv[p * n + j];
      }
    }
    assertEquals(Array.from(got), Array.from(ref));
  },
);

Deno.test("`matmul()` names both shapes when inner dimensions differ", () => {
  const a = tensor(new Array(6).fill(1), [2, 3], { backend: CPU });
  const b = tensor(new Array(20).fill(1), [4, 5], { backend: CPU });
  let message = "";
  try {
    matmul(a, b);
  } catch (e) {
    message = (e as Error).message;
  }
  assertEquals(message, 'Cannot matmul "[2,3]" and "[4,5]": inner dimensions differ (3 vs 4)');
});

gpuTest("hardware tiling picks 128×128 and 64×64 double-buffered blocks for large outputs", () => {
  const big = hardwareMatmulConfigFor(1300, 1604, 19, false, false);
  assertEquals([big.tm, big.tn, big.wgM * big.tm, big.wgN * big.tn, big.tk], [8, 8, 128, 128, 8]);
  assertEquals(big.doubleBuffer, true);
  const medium = hardwareMatmulConfigFor(520, 530, 45, true, false);
  assertEquals([medium.wgM * medium.tm, medium.wgN * medium.tn, medium.tk], [64, 64, 16]);
  assertEquals(hardwareMatmulConfigFor(64, 48, 36, false, false).doubleBuffer, undefined);
});

gpuTest(
  "`matmul()` with GPU-style tiling accumulates into its destination (64×64 and 128×128 blocks)",
  async (gpu) => {
    setMatmulTiling("hardware");
    try {
      for (const [m, n, k] of [[520, 530, 45], [1300, 1604, 19]]) {
        const av = Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.13));
        const bv = Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.07));
        const cv = Array.from({ length: m * n }, (_, i) => Math.sin(i * 0.011));
        const on = (backend: Backend) => {
          const a = tensor(av, [m, k], { backend });
          const b = tensor(bv, [k, n], { backend });
          const c = tensor(cv, [m, n], { backend });
          matmulInto(a, b, c, false, false, true);
          return c.toArray();
        };
        assertClose(
          await on(gpu),
          await on(CPU),
          { atol: 1e-4 * Math.sqrt(k), rtol: 1e-4 },
          `${m}x${n}x${k}`,
        );
      }
    } finally {
      setMatmulTiling("auto");
    }
  },
);

gpuTest(
  "`matmul()` GPU-style tiling matches the reference (all layouts, both K modes)",
  async (gpu) => {
    // The hardware policy (4×4 tiles, shared-memory K tiles or direct loads) runs on real GPUs;
    // forced here so the software adapter checks the same WGSL.
    setMatmulTiling("hardware");
    try {
      // [m, n, k]: odd and aligned sizes, K tails, a tall-thin product that falls back to direct
      // loads (its 1024-row block does not fit workgroup memory), and outputs large enough for
      // the double-buffered 64×64 (4×4 per invocation) and 128×128 (8×8) blocks, with K not a
      // multiple of their K tiles and M, N not multiples of the blocks.
      const shapes: [number, number, number][] = [
        [7, 5, 13],
        [64, 48, 36],
        [33, 70, 21],
        [
          1200,
          4,
          40,
        ],
        [520, 530, 45],
        [1300, 1604, 19],
      ];
      for (const [m, n, k] of shapes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const av = Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.31));
            const bv = Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.17));
            const aShape = transA ? [k, m] : [m, k];
            const bShape = transB ? [n, k] : [k, n];
            const o = { transA, transB };
            const ref = await matmul(
              tensor(av, aShape, { backend: CPU }),
              tensor(bv, bShape, { backend: CPU }),
              o,
            ).toArray();
            const got = await matmul(
              tensor(av, aShape, { backend: gpu }),
              tensor(bv, bShape, { backend: gpu }),
              o,
            ).toArray();
            assertClose(
              got,
              ref,
              { atol: 1e-4 * Math.sqrt(k), rtol: 1e-4 },
              `${m}x${n}x${k} ${transA}${transB}`,
            );
          }
        }
      }
    } finally {
      setMatmulTiling("auto");
    }
  },
);
