import {
  deepStrictEqual as assertEquals,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";
import { assertClose, checkOp, type Tol } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { CPU } from "../../../engine/backend.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { ridgeSolve } from "../../../malmen/algorithm/ridge_solve.ts";
import { RidgeAccumulator } from "../../../malmen/algorithm/ridge_accumulator.ts";
import {
  autograd,
  metaLoss,
  type Problem,
  problem,
  residual,
  rowsOf,
  streamed,
  values,
} from "./_ridge.ts";

const TALL = problem(13, 7, 5, 0.3);
const WIDE = problem(6, 11, 4, -0.4, 5);
const EXACT: Tol = { atol: 1e-11, rtol: 1e-9 };

checkOp({
  name: "`ridgeSolve()` primal form of odd shapes",
  inputs: [{ shape: [13, 7], values: TALL.k, grad: false }, { shape: [13, 5], values: TALL.d }, {
    shape: [1],
    values: [0.3],
  }],
  fn: ([k, d, l]) => ridgeSolve(k, d, l, { form: "primal" }),
});
checkOp({
  name: "`ridgeSolve()` dual form of odd shapes",
  inputs: [{ shape: [6, 11], values: WIDE.k, grad: false }, { shape: [6, 4], values: WIDE.d }, {
    shape: [1],
    values: [-0.4],
  }],
  fn: ([k, d, l]) => ridgeSolve(k, d, l),
});

for (const p of [TALL, WIDE]) {
  const label = `n = ${p.n}, d_in = ${p.dIn}`;
  Deno.test(`\`ridgeSolve()\` gives the same ΔW in primal and dual form (${label})`, async () => {
    const a = await autograd(p, CPU, "primal");
    const b = await autograd(p, CPU, "dual");
    assertClose(a.dW, b.dW, EXACT, "ΔW");
    assertClose(a.gD, b.gD, EXACT, "∂L/∂D");
    assertClose([a.gLam], [b.gLam], EXACT, "∂L/∂λ̂");
    if (residual(p, a.dW) > 1e-13 || residual(p, b.dW) > 1e-13) {
      throw new Error(`normal-equation residuals ${residual(p, a.dW)}, ${residual(p, b.dW)}`);
    }
  });

  Deno.test(`\`RidgeAccumulator\` closed-form gradients match finite differences (${label})`, async () => {
    for (const form of ["primal", "dual"] as const) {
      const got = await streamed(p, CPU, { form });
      const lossAt = async (q: Problem) => metaLoss(q, (await streamed(q, CPU, { form })).dW);
      const eps = 1e-6;
      const fd = new Float64Array(p.n * p.dOut);
      for (let i = 0; i < fd.length; i++) {
        const up = { ...p, d: p.d.slice() }, down = { ...p, d: p.d.slice() };
        up.d[i] += eps;
        down.d[i] -= eps;
        fd[i] = ((await lossAt(up)) - (await lossAt(down))) / (2 * eps);
      }
      assertClose(got.gD, fd, { atol: 1e-7, rtol: 1e-6 }, `${form} ∂L/∂D`);
      const fdLam = ((await lossAt({ ...p, lamHat: p.lamHat + eps })) -
        (await lossAt({ ...p, lamHat: p.lamHat - eps }))) / (2 * eps);
      assertClose([got.gLam], [fdLam], { atol: 1e-7, rtol: 1e-6 }, `${form} ∂L/∂λ̂`);
      if (Math.abs(fdLam) < 1e-3) throw new Error("the λ̂ gradient is too small to test");
    }
  });

  Deno.test(`\`ridgeSolve()\` autograd equals the streamed closed forms (${label})`, async () => {
    for (const form of ["primal", "dual"] as const) {
      const a = await autograd(p, CPU, form);
      const b = await streamed(p, CPU, { form, chunks: [4, 2, 1, 100] });
      assertEquals(b.form, form);
      assertClose(b.dW, a.dW, EXACT, `${form} ΔW`);
      assertClose(b.gD, a.gD, EXACT, `${form} ∂L/∂D`);
      assertClose([b.gLam], [a.gLam], EXACT, `${form} ∂L/∂λ̂`);
    }
  });
}

Deno.test("`RidgeAccumulator` streamed over uneven chunks equals the one-shot Gram solve", async () => {
  const p = problem(40, 9, 6, 0.1, 9);
  const oneShot = await autograd(p, CPU, "primal");
  for (const chunks of [[40], [3, 7, 1, 12, 17], [1, 1, 38]]) {
    const s = await streamed(p, CPU, { form: "primal", chunks });
    assertClose(s.dW, oneShot.dW, EXACT, `ΔW over ${chunks}`);
    assertClose(s.gD, oneShot.gD, EXACT, `∂L/∂D over ${chunks}`);
  }
});

Deno.test("`RidgeAccumulator` switches from the dual to the primal form once n reaches d_in", async () => {
  const p = problem(12, 8, 3, 0.2, 4);
  const acc = new RidgeAccumulator(p.dIn, p.dOut);
  acc.add(rowsOf(p.k, 0, 5, p.dIn, CPU), rowsOf(p.d, 0, 5, p.dOut, CPU));
  assertEquals(acc.form, "dual");
  acc.add(rowsOf(p.k, 5, 12, p.dIn, CPU), rowsOf(p.d, 5, 12, p.dOut, CPU));
  assertEquals([acc.form, acc.rows], ["primal", 12]);
  const sol = await acc.solve(p.lamHat);
  assertClose(await sol.deltaW.toArray(), (await autograd(p, CPU, "dual")).dW, EXACT);
  sol.dispose();
  acc.dispose();
});

Deno.test("`ridgeSolve()` with λ → 0 and n < d_in maps every key to its target exactly", async () => {
  const p = { ...problem(6, 11, 4, -28, 2) };
  const k = tensor(p.k, [p.n, p.dIn], { backend: CPU });
  const dW = await ridgeSolve(
    k,
    tensor(p.d, [p.n, p.dOut], { backend: CPU }),
    tensor([p.lamHat], [1], { backend: CPU }),
  ).toArray();
  const kdW = new Float64Array(p.n * p.dOut);
  for (let r = 0; r < p.n; r++) {
    for (let c = 0; c < p.dOut; c++) {
      for (let j = 0; j < p.dIn; j++) {
        kdW[r * p.dOut + c] += p.k[r * p.dIn + j] * dW[j * p.dOut + c];
      }
    }
  }
  assertClose(kdW, p.d, { atol: 1e-9, rtol: 1e-9 }, "K·ΔW");
  // With λ = 1 the same keys are visibly not hit exactly: the test discriminates.
  const loose = await ridgeSolve(
    k,
    tensor(p.d, [p.n, p.dOut], { backend: CPU }),
    tensor([0], [1], { backend: CPU }),
  ).toArray();
  let miss = 0;
  for (let c = 0; c < p.dOut; c++) {
    let v = 0;
    for (let j = 0; j < p.dIn; j++) v += p.k[j] * loose[j * p.dOut + c];
    miss = Math.max(miss, Math.abs(v - p.d[c]));
  }
  if (miss < 1e-3) throw new Error("λ = 1 should not interpolate");
});

Deno.test("`ridgeSolve()` and `RidgeAccumulator` reject mismatched shapes", async () => {
  const k = tensor(values(12, 1), [4, 3], { backend: CPU });
  const d = tensor(values(10, 1), [5, 2], { backend: CPU });
  const l = tensor([0], [1], { backend: CPU });
  assertThrows(() => ridgeSolve(k, d, l), /keys "\[4,3\]" with values "\[5,2\]"/);
  assertThrows(
    () =>
      ridgeSolve(
        k,
        tensor(values(8, 1), [4, 2], { backend: CPU }),
        tensor([0, 0], [2], { backend: CPU }),
      ),
    /one-element float lamHat/,
  );
  const acc = new RidgeAccumulator(3, 3);
  assertThrows(
    () => acc.add(k, tensor(values(8, 1), [4, 2], { backend: CPU })),
    /into a "\[3,3\]" ridge solve/,
  );
  await assertRejects(() => acc.solve(0), /without rows/);
  acc.add(k, tensor(values(12, 2), [4, 3], { backend: CPU }));
  const sol = await acc.solve(0);
  await assertRejects(
    () => sol.backward(tensor(values(6, 1), [3, 2], { backend: CPU })),
    /Cannot back-propagate "\[3,2\]"/,
  );
  const bw = await sol.backward(tensor(values(9, 1), [3, 3], { backend: CPU }));
  assertEquals(bw.form, "primal");
  sol.dispose();
  acc.dispose();
});

// GPU: every (form, solver) pair against the float64 reference, plus the normal-equation
// residual of what the GPU produced.
for (const solver of ["host", "device"] as const) {
  gpuTest(
    `\`RidgeAccumulator\` on WebGPU (${solver} solver) matches the float64 reference`,
    async (gpu) => {
      for (const p of [TALL, WIDE, problem(70, 67, 9, 0.5, 3)]) {
        for (const form of ["primal", "dual"] as const) {
          const ref = await streamed(p, CPU, { form });
          const got = await streamed(p, gpu, { form, solver });
          const tol = { atol: 1e-4, rtol: 2e-3 };
          assertClose(got.dW, ref.dW, tol, `${form} ΔW (n ${p.n})`);
          assertClose(got.gD, ref.gD, tol, `${form} ∂L/∂D (n ${p.n})`);
          assertClose([got.gLam], [ref.gLam], tol, `${form} ∂L/∂λ̂ (n ${p.n})`);
          const r = residual(p, got.dW);
          if (r > 1e-4) throw new Error(`${form} residual ${r} (n ${p.n})`);
        }
      }
    },
  );
}

gpuTest("`ridgeSolve()` on WebGPU gives the same ΔW in primal and dual form", async (gpu) => {
  for (const p of [TALL, WIDE]) {
    const a = await autograd(p, gpu, "primal");
    const b = await autograd(p, gpu, "dual");
    const tol = { atol: 1e-4, rtol: 2e-3 };
    assertClose(a.dW, b.dW, tol, "ΔW");
    assertClose(a.gD, b.gD, tol, "∂L/∂D");
    assertClose([a.gLam], [b.gLam], tol, "∂L/∂λ̂");
  }
});
