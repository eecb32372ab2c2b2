// The ridge solve's fit diagnostic (‖KΔW − D‖ / ‖D‖) and its preservation prior P:
// (KᵀK + P + λI)ΔW = KᵀD, against float64 references written independently of the engine.
import {
  deepStrictEqual as assertEquals,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";
import { assertClose, type Tol } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { CPU } from "../../../engine/backend.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { ridgeSolve } from "../../../malmen/algorithm/ridge_solve.ts";
import { RidgeAccumulator } from "../../../malmen/algorithm/ridge_accumulator.ts";
import { metaGrad, type Problem, problem, rowsOf, streamed, values } from "./_ridge.ts";

const EXACT: Tol = { atol: 1e-11, rtol: 1e-9 };

/** ‖KΔW − D‖ / ‖D‖ in float64 from the problem's arrays. */
function directFit(p: Problem, dW: ArrayLike<number>): number {
  let r2 = 0;
  let d2 = 0;
  for (let i = 0; i < p.n; i++) {
    for (let j = 0; j < p.dOut; j++) {
      let kw = 0;
      for (let a = 0; a < p.dIn; a++) kw += p.k[i * p.dIn + a] * dW[a * p.dOut + j];
      const d = p.d[i * p.dOut + j];
      r2 += (kw - d) ** 2;
      d2 += d * d;
    }
  }
  return Math.sqrt(r2 / d2);
}

for (const [form, n] of [["dual", 5], ["primal", 30]] as const) {
  Deno.test(`\`RidgeAccumulator.fit()\` is the relative residual of the rows (${form})`, async () => {
    const p = problem(n, 8, 3, -1, 6);
    const acc = new RidgeAccumulator(p.dIn, p.dOut, { form, trackFit: true });
    acc.add(rowsOf(p.k, 0, 2, p.dIn, CPU), rowsOf(p.d, 0, 2, p.dOut, CPU));
    acc.add(rowsOf(p.k, 2, n, p.dIn, CPU), rowsOf(p.d, 2, n, p.dOut, CPU));
    const sol = await acc.solve(p.lamHat);
    const fit = await acc.fit(sol);
    assertClose([fit], [directFit(p, await sol.deltaW.toArray())], { atol: 1e-9, rtol: 1e-9 });
    // Fewer rows than d_in can be met almost exactly; random targets on 30 rows cannot.
    if (form === "dual") assertEquals(fit < 0.2, true, `fit ${fit}`);
    else assertEquals(fit > 0.3, true, `fit ${fit}`);
    if (form === "primal") {
      // Without trackFit the primal accumulator has no ‖D‖² and says so.
      const bare = new RidgeAccumulator(p.dIn, p.dOut, { form });
      bare.add(rowsOf(p.k, 0, n, p.dIn, CPU), rowsOf(p.d, 0, n, p.dOut, CPU));
      const s2 = await bare.solve(p.lamHat);
      await assertRejects(() => bare.fit(s2), /trackFit/);
      s2.dispose();
      bare.dispose();
    }
    sol.dispose();
    acc.dispose();
  });
}

gpuTest("`RidgeAccumulator.fit()` on WebGPU matches the float64 reference", async (gpu) => {
  const p = problem(40, 16, 4, 0, 8);
  const fits: number[] = [];
  for (const backend of [CPU, gpu]) {
    const acc = new RidgeAccumulator(p.dIn, p.dOut, { trackFit: true });
    acc.add(rowsOf(p.k, 0, 40, p.dIn, backend), rowsOf(p.d, 0, 40, p.dOut, backend));
    const sol = await acc.solve(p.lamHat);
    fits.push(await acc.fit(sol));
    sol.dispose();
    acc.dispose();
  }
  assertClose([fits[1]], [fits[0]], { atol: 1e-3, rtol: 1e-3 });
});

/** A symmetric PSD prior P = BᵀB / m of random rows, as float64. */
function priorOf(dIn: number, seed: number): Float64Array {
  const m = 9;
  const b = values(m * dIn, seed);
  const p = new Float64Array(dIn * dIn);
  for (let i = 0; i < dIn; i++) {
    for (let j = 0; j < dIn; j++) {
      let s = 0;
      for (let r = 0; r < m; r++) s += b[r * dIn + i] * b[r * dIn + j];
      p[i * dIn + j] = (3 * s) / m;
    }
  }
  return p;
}

/** ΔW = (KᵀK + P + λI)⁻¹KᵀD by float64 Gaussian elimination (independent of the engine). */
function priorSolve(p: Problem, prior: Float64Array): Float64Array {
  const { n, dIn, dOut } = p;
  const a = Float64Array.from(prior);
  const rhs = new Float64Array(dIn * dOut);
  for (let i = 0; i < dIn; i++) {
    a[i * dIn + i] += Math.exp(p.lamHat);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < dIn; j++) a[i * dIn + j] += p.k[r * dIn + i] * p.k[r * dIn + j];
      for (let c = 0; c < dOut; c++) rhs[i * dOut + c] += p.k[r * dIn + i] * p.d[r * dOut + c];
    }
  }
  for (let col = 0; col < dIn; col++) {
    for (let row = col + 1; row < dIn; row++) {
      const f = a[row * dIn + col] / a[col * dIn + col];
      for (let j = col; j < dIn; j++) a[row * dIn + j] -= f * a[col * dIn + j];
      for (let c = 0; c < dOut; c++) rhs[row * dOut + c] -= f * rhs[col * dOut + c];
    }
  }
  const x = new Float64Array(dIn * dOut);
  for (let row = dIn - 1; row >= 0; row--) {
    for (let c = 0; c < dOut; c++) {
      let s = rhs[row * dOut + c];
      for (let j = row + 1; j < dIn; j++) s -= a[row * dIn + j] * x[j * dOut + c];
      x[row * dOut + c] = s / a[row * dIn + row];
    }
  }
  return x;
}

Deno.test("`RidgeAccumulator` with a prior solves (KᵀK + P + λI)ΔW = KᵀD and measures the fit without P", async () => {
  // 5 rows < d_in 8 would be the dual form: the prior forces the primal one.
  const p = problem(5, 8, 3, -0.5, 12);
  const pv = priorOf(p.dIn, 13);
  const prior = tensor(pv, [p.dIn, p.dIn], { backend: CPU });
  const acc = new RidgeAccumulator(p.dIn, p.dOut, { prior, trackFit: true });
  acc.add(rowsOf(p.k, 0, 2, p.dIn, CPU), rowsOf(p.d, 0, 2, p.dOut, CPU));
  acc.add(rowsOf(p.k, 2, 5, p.dIn, CPU), rowsOf(p.d, 2, 5, p.dOut, CPU));
  assertEquals(acc.form, "primal");
  const sol = await acc.solve(p.lamHat);
  const dW = await sol.deltaW.toArray();
  assertClose(dW, priorSolve(p, pv), EXACT, "ΔW with prior");
  assertClose([await acc.fit(sol)], [directFit(p, dW)], EXACT, "fit");
  // The prior must matter: the plain ridge solution differs.
  const plain = await streamed(p, CPU, { form: "primal" });
  assertEquals(plain.dW.some((x, i) => Math.abs(x - dW[i]) > 1e-3), true);
  // The differentiable op agrees, and its autograd equals the streamed closed form.
  const k = tensor(p.k, [p.n, p.dIn], { backend: CPU });
  const d = tensor(p.d, [p.n, p.dOut], { backend: CPU, requiresGrad: true });
  const l = tensor([p.lamHat], [1], { backend: CPU, requiresGrad: true });
  const viaOp = ridgeSolve(k, d, l, { prior });
  assertClose(await viaOp.toArray(), dW, EXACT, "ridgeSolve with prior");
  const g = metaGrad(p, dW);
  viaOp.backward(tensor(g, [p.dIn, p.dOut], { backend: CPU }));
  const bw = await sol.backward(tensor(g, [p.dIn, p.dOut], { backend: CPU }));
  assertClose(
    await bw.gradValues(0, rowsOf(p.k, 0, 5, p.dIn, CPU)).toArray(),
    await d.grad!.toArray(),
    EXACT,
    "∂L/∂D",
  );
  assertClose(await bw.gradLamHat.toArray(), await l.grad!.toArray(), EXACT, "∂L/∂λ̂");
  bw.dispose();
  sol.dispose();
  acc.dispose();
});

Deno.test("a ridge prior of the wrong shape or with the dual form is rejected", () => {
  const prior = tensor(new Float64Array(9), [3, 3], { backend: CPU });
  assertThrows(() => new RidgeAccumulator(4, 2, { prior }), /\[4,4\]/);
  const ok = tensor(new Float64Array(16), [4, 4], { backend: CPU });
  assertThrows(() => new RidgeAccumulator(4, 2, { prior: ok, form: "dual" }), /primal/);
  const k = tensor(new Float64Array(8), [2, 4], { backend: CPU });
  const d = tensor(new Float64Array(4), [2, 2], { backend: CPU });
  const l = tensor([0], [1], { backend: CPU });
  assertThrows(() => ridgeSolve(k, d, l, { prior }), /\[4,4\]/);
  assertThrows(() => ridgeSolve(k, d, l, { prior: ok, form: "dual" }), /primal/);
});
