import {
  deepStrictEqual as assertEquals,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";
import { assertClose, checkOp, type Tol } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { rng, tensor } from "../../../engine/ops/creation.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { type RidgeForm, ridgeSolve } from "../../../malmen/algorithm/ridge_solve.ts";
import { RidgeAccumulator, type RidgeSolver } from "../../../malmen/algorithm/ridge_accumulator.ts";

function values(n: number, seed: number, scale = 1): Float64Array {
  const next = rng(seed);
  return Float64Array.from({ length: n }, () => scale * (2 * next() - 1));
}

/** A toy problem: K [n, dIn], D [n, dOut], λ̂, a target T and weights w of the meta-loss. */
interface Problem {
  n: number;
  dIn: number;
  dOut: number;
  k: Float64Array;
  d: Float64Array;
  lamHat: number;
  target: Float64Array;
  w: Float64Array;
}

function problem(n: number, dIn: number, dOut: number, lamHat: number, seed = 1): Problem {
  return {
    n,
    dIn,
    dOut,
    k: values(n * dIn, seed, 1.5),
    d: values(n * dOut, seed + 1),
    lamHat,
    target: values(dIn * dOut, seed + 2, 0.3),
    w: values(dIn * dOut, seed + 3, 0.5).map((x) => 1 + x),
  };
}

// L = ½ Σ w (ΔW − T)², so G = w ⊙ (ΔW − T).
function metaLoss(p: Problem, dW: ArrayLike<number>): number {
  let l = 0;
  for (let i = 0; i < dW.length; i++) l += 0.5 * p.w[i] * (dW[i] - p.target[i]) ** 2;
  return l;
}
function metaGrad(p: Problem, dW: ArrayLike<number>): Float64Array {
  return Float64Array.from(dW, (x, i) => p.w[i] * (x - p.target[i]));
}

const rowsOf = (v: Float64Array, s: number, e: number, width: number, backend: Backend): Tensor =>
  tensor(v.subarray(s * width, e * width), [e - s, width], { backend });

/** Streams the problem through an accumulator in uneven chunks; returns ΔW and the closed forms. */
async function streamed(
  p: Problem,
  backend: Backend,
  options: { form?: RidgeForm; solver?: RidgeSolver; chunks?: number[] } = {},
): Promise<{ form: RidgeForm; dW: Float64Array; gD: Float64Array; gLam: number }> {
  const acc = new RidgeAccumulator(p.dIn, p.dOut, { form: options.form, solver: options.solver });
  const bounds: [number, number][] = [];
  let s = 0;
  for (const c of options.chunks ?? [3, 1, 5, p.n]) {
    const e = Math.min(p.n, s + c);
    if (e > s) bounds.push([s, e]);
    s = e;
  }
  for (const [a, b] of bounds) {
    acc.add(rowsOf(p.k, a, b, p.dIn, backend), rowsOf(p.d, a, b, p.dOut, backend));
  }
  const sol = await acc.solve(tensor([p.lamHat], [1], { backend }));
  const dW = Float64Array.from(await sol.deltaW.toArray());
  const bw = await sol.backward(tensor(metaGrad(p, dW), [p.dIn, p.dOut], { backend }));
  const gD = new Float64Array(p.n * p.dOut);
  for (const [a, b] of bounds) {
    gD.set(await bw.gradValues(a, rowsOf(p.k, a, b, p.dIn, backend)).toArray(), a * p.dOut);
  }
  const out = { form: sol.form, dW, gD, gLam: (await bw.gradLamHat.toArray())[0] };
  bw.dispose();
  sol.dispose();
  acc.dispose();
  return out;
}

/** The differentiable op with plain autograd. */
async function autograd(p: Problem, backend: Backend, form: RidgeForm) {
  const k = tensor(p.k, [p.n, p.dIn], { backend });
  const d = tensor(p.d, [p.n, p.dOut], { backend, requiresGrad: true });
  const l = tensor([p.lamHat], [1], { backend, requiresGrad: true });
  const dWt = ridgeSolve(k, d, l, { form });
  const dW = Float64Array.from(await dWt.toArray());
  dWt.backward(tensor(metaGrad(p, dW), [p.dIn, p.dOut], { backend }));
  return { dW, gD: Float64Array.from(await d.grad!.toArray()), gLam: (await l.grad!.toArray())[0] };
}

// Normal-equation residual ‖(KᵀK + λI)ΔW − KᵀD‖ / ‖KᵀD‖ in float64.
function residual(p: Problem, dW: ArrayLike<number>): number {
  const lam = Math.exp(p.lamHat);
  let num = 0, den = 0;
  for (let i = 0; i < p.dIn; i++) {
    for (let c = 0; c < p.dOut; c++) {
      let lhs = lam * dW[i * p.dOut + c], rhs = 0;
      for (let r = 0; r < p.n; r++) {
        const kri = p.k[r * p.dIn + i];
        rhs += kri * p.d[r * p.dOut + c];
        let kw = 0;
        for (let j = 0; j < p.dIn; j++) kw += p.k[r * p.dIn + j] * dW[j * p.dOut + c];
        lhs += kri * kw;
      }
      num += (lhs - rhs) ** 2;
      den += rhs ** 2;
    }
  }
  return Math.sqrt(num / den);
}

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
