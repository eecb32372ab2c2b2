import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { rng, tensor } from "../../../engine/ops/creation.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { NORM_EPS, RunningNormalizer } from "../../../malmen/algorithm/normalizer.ts";

const D_IN = 5;
const D_OUT = 3;

interface Batch {
  u: number[][];
  v: number[][];
}

// Rows with different means and spreads per column, so every term of the update matters.
function batch(rows: number, seed: number): Batch {
  const next = rng(seed);
  const row = (d: number, shift: number) =>
    Array.from({ length: d }, (_, c) => shift + c * 0.7 + (c + 1) * (2 * next() - 1));
  return {
    u: Array.from({ length: rows }, () => row(D_IN, 1.5)),
    v: Array.from({ length: rows }, () => row(D_OUT, -0.25)),
  };
}

function upload(b: Batch, backend: Backend): [Tensor, Tensor] {
  return [
    tensor(b.u.flat(), [b.u.length, D_IN], { backend }),
    tensor(b.v.flat(), [b.v.length, D_OUT], { backend }),
  ];
}

// The reference code's running-statistics formula written out independently: N, μ, M, σ after each batch.
function expected(
  batches: Batch[],
  bias = 0,
): { n: number; mu: number[]; m: number[]; sigma: number[] } {
  const d = D_IN + D_OUT;
  let n = 0;
  const mu = new Array(d).fill(0), m = new Array(d).fill(0), sigma = new Array(d).fill(0);
  for (const bt of batches) {
    const rows = bt.u.map((u, i) => [...u, ...bt.v[i]]);
    const b = rows.length;
    for (let c = 0; c < d; c++) {
      const col = rows.map((r) => r[c]);
      const xbar = col.reduce((s, x) => s + x, 0) / b;
      const s2 = b > 1 ? col.reduce((s, x) => s + (x - xbar) ** 2, 0) / (b - 1) : 0;
      const delta = xbar - mu[c];
      const n2 = n + b;
      mu[c] += (b * delta) / n2;
      m[c] += (b - bias) * s2 + (n * b * delta ** 2) / n2;
      sigma[c] = Math.sqrt(m[c] / (n2 - 1 + NORM_EPS));
    }
    n += b;
  }
  return { n, mu, m, sigma };
}

async function runUpdates(batches: Batch[], backend: Backend): Promise<RunningNormalizer> {
  const norm = new RunningNormalizer(D_IN, D_OUT, { backend });
  for (const bt of batches) {
    const [u, v] = upload(bt, backend);
    norm.update(u, v);
    u.dispose();
    v.dispose();
  }
  await norm.stateTensor().toArray();
  return norm;
}

const BATCHES = [batch(6, 1), batch(1, 2), batch(9, 3), batch(2, 4)];

Deno.test("`RunningNormalizer.update()` reproduces the batched formula with the b·s² term", async () => {
  const norm = await runUpdates(BATCHES, CPU);
  const want = expected(BATCHES);
  const got = await norm.saveState();
  assertEquals(got.count, want.n);
  const tol = { atol: 1e-12, rtol: 1e-12 };
  assertClose(got.mean, want.mu, tol, "mean");
  assertClose(got.m2, want.m, tol, "M");
  assertClose(got.std, want.sigma, tol, "sigma");
  // The (b − 1)·s² variant differs far beyond the tolerance: the test would catch it.
  assertThrows(() => assertClose(got.m2, expected(BATCHES, 1).m, tol, "M"));
  norm.dispose();
});

Deno.test("`RunningNormalizer.update()` of a single row gives s² = 0, not NaN", async () => {
  const norm = await runUpdates([batch(1, 7)], CPU);
  const got = await norm.saveState();
  const want = expected([batch(1, 7)]);
  assertClose(got.mean, want.mu, { atol: 1e-12, rtol: 0 }, "mean");
  assertClose(got.m2, new Array(D_IN + D_OUT).fill(0), { atol: 0, rtol: 0 }, "M");
  for (const s of Array.from(got.std)) if (!Number.isFinite(s)) throw new Error(`sigma ${s}`);
  norm.dispose();
});

Deno.test("`RunningNormalizer.update()` does nothing when frozen", async () => {
  const norm = await runUpdates(BATCHES.slice(0, 2), CPU);
  const before = await norm.saveState();
  norm.frozen = true;
  const [u, v] = upload(BATCHES[2], CPU);
  norm.update(u, v);
  const after = await norm.saveState();
  assertEquals(after, before);
  norm.dispose();
});

Deno.test("`RunningNormalizer.normalize()` computes (z − μ)/(σ + ε) over [u; δ]", async () => {
  const norm = await runUpdates(BATCHES, CPU);
  const st = expected(BATCHES);
  const probe = batch(4, 11);
  const [u, v] = upload(probe, CPU);
  const got = await norm.normalize(u, v).toArray();
  const want = probe.u.flatMap((r, i) =>
    [...r, ...probe.v[i]].map((z, c) => (z - st.mu[c]) / (st.sigma[c] + NORM_EPS))
  );
  assertClose(got, want, { atol: 1e-12, rtol: 1e-12 });
  norm.dispose();
});

Deno.test("`RunningNormalizer.loadState()` restores a saved state", async () => {
  const norm = await runUpdates(BATCHES, CPU);
  const saved = await norm.saveState();
  const other = new RunningNormalizer(D_IN, D_OUT, { backend: CPU });
  other.loadState(saved);
  assertEquals(await other.saveState(), saved);
  const [u, v] = upload(batch(3, 5), CPU);
  assertEquals(await other.normalize(u, v).toArray(), await norm.normalize(u, v).toArray());
  norm.dispose();
  other.dispose();
});

Deno.test("`RunningNormalizer` names both shapes when they do not fit", () => {
  const norm = new RunningNormalizer(D_IN, D_OUT, { backend: CPU });
  const u = tensor(new Array(8).fill(0), [2, 4], { backend: CPU });
  const v = tensor(new Array(6).fill(0), [2, 3], { backend: CPU });
  assertThrows(() => norm.update(u, v), /keys "\[2,4\]" and value-gradients "\[2,3\]"/);
  assertThrows(() => norm.loadState({ count: 1, mean: [1], m2: [1], std: [1] }), RangeError);
  norm.dispose();
});

gpuTest(
  "`RunningNormalizer` on WebGPU matches the float64 reference (update and normalize)",
  async (gpu) => {
    const ref = await runUpdates(BATCHES, CPU);
    const got = await runUpdates(BATCHES, gpu);
    const [a, b] = [await got.saveState(), await ref.saveState()];
    assertEquals(a.count, b.count);
    const tol = { atol: 1e-5, rtol: 1e-5 };
    assertClose(a.mean, b.mean, tol, "mean");
    assertClose(a.m2, b.m2, tol, "M");
    assertClose(a.std, b.std, tol, "sigma");
    const probe = batch(5, 13);
    const [uc, vc] = upload(probe, CPU);
    const [ug, vg] = upload(probe, gpu);
    assertClose(await got.normalize(ug, vg).toArray(), await ref.normalize(uc, vc).toArray(), tol);
    // Round trip through host values on the GPU backend.
    const copy = new RunningNormalizer(D_IN, D_OUT, { backend: gpu });
    copy.loadState(a);
    assertClose(await copy.normalize(ug, vg).toArray(), await got.normalize(ug, vg).toArray(), {
      atol: 0,
      rtol: 0,
    });
    for (const t of [ug, vg]) t.dispose();
    for (const n of [ref, got, copy]) n.dispose();
  },
);
