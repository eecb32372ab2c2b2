// MEMIT's pieces on the float64 CPU reference: the residual-stream composition equals the GPT's
// forward, the layer-by-layer spread solve equals a direct least-squares solution (QR of the
// stacked problem) with keys and residuals recomputed after each layer's update, and the target
// optimisation takes the same steps on its two paths and keeps its norm constraint.
import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { upload } from "../../../engine/alloc.ts";
import { CPU } from "../../../engine/backend.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { editBatch } from "../../../engine/models/gpt/batch.ts";
import type { GPT } from "../../../engine/models/gpt/model.ts";
import { rng, tensor, zeros } from "../../../engine/ops/creation.ts";
import { copyInto } from "../../../engine/ops/copy.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import {
  editRows,
  type MemitFact,
  optimizeTargets,
} from "../../../malmen/algorithm/memit_targets.ts";
import { SPREAD_JITTER, spreadTargets } from "../../../malmen/algorithm/memit_spread.ts";
import { embed, readout, runBlocks, streamRows } from "../../../malmen/algorithm/residual.ts";
import { clearShifts, editedLayer, setShift } from "../../../malmen/algorithm/shifts.ts";
import { keyCovariances } from "../../../malmen/algorithm/key_prior.ts";
import { randomRequests } from "../_requests.ts";
import { frozenLm } from "../_lm.ts";

const V = 19;

Deno.test("the residual-stream pieces compose to the GPT's forward pass", async () => {
  const lm = frozenLm(V);
  const batch = editBatch(randomRequests(5, V, 3).map((r) => r.edit), { backend: CPU });
  const want = await noGrad(() => lm.forward(batch.ids, { at: batch.positions })).toArray();
  const x = noGrad(() => runBlocks(lm, runBlocks(lm, embed(lm, batch.ids), 0, 1), 1, 2));
  const got = await noGrad(() => readout(lm, x, batch.positions)).toArray();
  assertClose(got, want, { atol: 1e-12, rtol: 1e-12 });
  throws(() => runBlocks(lm, x, 1, 3), /Blocks 1 to 3 are not a range of the model's 2 blocks/);
  lm.dispose();
});

// Dense float64 helpers for the reference.
function matT(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

// Lower Cholesky factor of a symmetric positive definite matrix.
function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j];
    for (let k = 0; k < j; k++) s -= l[j * n + k] ** 2;
    l[j * n + j] = Math.sqrt(s);
    for (let i = j + 1; i < n; i++) {
      let t = a[i * n + j];
      for (let k = 0; k < j; k++) t -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = t / l[j * n + j];
    }
  }
  return l;
}

// Least squares min ‖A·X − B‖ by Householder QR (A [m, n], m ≥ n, full column rank).
function lstsq(a: Float64Array, b: Float64Array, m: number, n: number, k: number): Float64Array {
  const r = Float64Array.from(a);
  const y = Float64Array.from(b);
  for (let j = 0; j < n; j++) {
    let norm = 0;
    for (let i = j; i < m; i++) norm += r[i * n + j] ** 2;
    norm = Math.sqrt(norm);
    const alpha = r[j * n + j] > 0 ? -norm : norm;
    const v = new Float64Array(m);
    for (let i = j; i < m; i++) v[i] = r[i * n + j];
    v[j] -= alpha;
    let vv = 0;
    for (let i = j; i < m; i++) vv += v[i] ** 2;
    if (vv === 0) continue;
    const reflect = (x: Float64Array, cols: number) => {
      for (let c = 0; c < cols; c++) {
        let dot = 0;
        for (let i = j; i < m; i++) dot += v[i] * x[i * cols + c];
        for (let i = j; i < m; i++) x[i * cols + c] -= (2 * dot / vv) * v[i];
      }
    };
    reflect(r, n);
    reflect(y, k);
  }
  const x = new Float64Array(n * k);
  for (let c = 0; c < k; c++) {
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i * k + c];
      for (let j = i + 1; j < n; j++) s -= r[i * n + j] * x[j * k + c];
      x[i * k + c] = s / r[i * n + i];
    }
  }
  return x;
}

// Keys at `layer` and the stream after block `top` at the facts' subject tokens, on the model as
// it is: keys through the layer's capture tap, the stream through the composition tested above.
async function keysAndStream(lm: GPT, facts: MemitFact[], layer: number, top: number) {
  const batch = editBatch(facts.map((f) => f.pair), { backend: CPU });
  const rows = editRows(facts, batch.length);
  const at = upload(rows, [rows.length], "int32", CPU);
  const tap = editedLayer(lm, layer).startCapture(at);
  const h = noGrad(() => streamRows(runBlocks(lm, embed(lm, batch.ids), 0, top + 1), at));
  const keys = tap.takeKeys();
  editedLayer(lm, layer).stopCapture();
  return { keys: Float64Array.from(await keys.toArray()), h: Float64Array.from(await h.toArray()) };
}

Deno.test("MEMIT's spread solve equals the direct least-squares solution, layer after layer", async () => {
  const lm = frozenLm(V);
  const dIn = lm.config.dInner;
  const d = lm.config.dModel;
  const reqs = randomRequests(6, V, 11);
  const facts: MemitFact[] = reqs.map((r, i) => ({ pair: r.edit, at: i % r.edit.prompt.length }));
  const texts = randomRequests(200, V, 12).map((r) => [...r.edit.prompt, ...r.edit.answer]);
  const covs = keyCovariances(lm, texts, [0, 1], 64);
  const next = rng(13);
  const layers = [0, 1];
  const lambda = 0.7;
  const base = await keysAndStream(lm, facts, 0, 1);
  // Targets: the unedited stream plus a fixed change per fact.
  const z = Float64Array.from(base.h, (x) => x + 0.5 * (2 * next() - 1));
  const targets = tensor(z, [facts.length, d], { backend: CPU });
  // Batches of 4 facts: 4 + 2, so the statistics must be summed over chunks.
  const got = await spreadTargets(lm, facts, targets, covs, { layers, lambda, batch: 4 });
  clearShifts(lm);
  deepStrictEqual([...got.shifts.keys()], layers);
  const applied: Tensor[] = [];
  for (let k = 0; k < layers.length; k++) {
    const l = layers[k];
    const { keys, h } = await keysAndStream(lm, facts, l, 1);
    const share = 1 / (layers.length - k);
    const r = Float64Array.from(z, (x, i) => share * (x - h[i]));
    // min ‖KΔW − R‖² + λ·‖Lᵀ ΔW‖² + ε‖ΔW‖² with C = LLᵀ, as one stacked least-squares problem.
    const c = Float64Array.from(await covs.get(l)!.toArray());
    let trace = 0;
    for (let i = 0; i < dIn; i++) trace += c[i * dIn + i];
    const eps = SPREAD_JITTER * lambda * trace / dIn;
    const lt = matT(cholesky(c, dIn), dIn, dIn);
    const m = facts.length + 2 * dIn;
    const a = new Float64Array(m * dIn);
    a.set(keys, 0);
    for (let i = 0; i < dIn * dIn; i++) a[facts.length * dIn + i] = Math.sqrt(lambda) * lt[i];
    for (let i = 0; i < dIn; i++) a[(facts.length + dIn + i) * dIn + i] = Math.sqrt(eps);
    const b = new Float64Array(m * d);
    b.set(r, 0);
    const want = lstsq(a, b, m, dIn, d);
    // The keys of a d = 8 model nearly span only 8 of their 32 directions, so λC + KᵀK is
    // ill-conditioned (ε·I bounds it): two float64 methods agree to ~1e-8, not 1e-15.
    assertClose(await got.shifts.get(l)!.toArray(), want, { atol: 1e-9, rtol: 1e-6 }, `layer ${l}`);
    // The reported residual is ‖KΔW − R‖/‖R‖ of this layer's problem.
    let res = 0;
    let norm = 0;
    for (let i = 0; i < facts.length; i++) {
      for (let j = 0; j < d; j++) {
        let kw = 0;
        for (let t = 0; t < dIn; t++) kw += keys[i * dIn + t] * want[t * d + j];
        res += (kw - r[i * d + j]) ** 2;
        norm += r[i * d + j] ** 2;
      }
    }
    ok(Math.abs(got.residual[k] - Math.sqrt(res / norm)) < 1e-6, `residual ${got.residual[k]}`);
    // The next layer's keys and stream are taken on the model carrying this shift.
    applied.push(tensor(want, [dIn, d], { backend: CPU }));
    setShift(lm, l, applied[k]);
  }
  // The shifts really move the stream towards the targets.
  const after = await keysAndStream(lm, facts, 1, 1);
  const dist = (h: Float64Array) => h.reduce((s, x, i) => s + (x - z[i]) ** 2, 0);
  ok(dist(after.h) < dist(base.h), "the edit must move the stream towards its targets");
  clearShifts(lm);
  for (const t of [...got.shifts.values(), ...applied, ...covs.values(), targets]) t.dispose();
  lm.dispose();
});

Deno.test("MEMIT's targets are the same whether δ runs through a block that adds nothing or is read directly", async () => {
  // Block 1 of this model adds nothing to the stream (its output projections are zero), so the
  // stream after block 0 is the final one: targets at block 0 go through block 1 (the general
  // path), targets at block 1 are read straight from the stream (the path without a tail).
  const lm = frozenLm(V);
  for (const name of ["attn.c_proj", "mlp.c_proj"]) {
    for (const p of ["weight", "bias"]) {
      const t = lm.getParameter(`h.1.${name}.${p}`);
      copyInto(t, zeros(t.shape, { backend: CPU }));
    }
  }
  const facts: MemitFact[] = randomRequests(5, V, 21).map((r, i) => ({
    pair: r.edit,
    at: i % 2 === 0 ? r.edit.prompt.length - 1 : 0,
  }));
  const o = { steps: 6, lr: 0.05, klWeight: 0.3, decay: 0.01, clamp: 0.2, batch: 3 };
  const through = await optimizeTargets(lm, facts, { ...o, layer: 0 });
  const direct = await optimizeTargets(lm, facts, { ...o, layer: 1 });
  const z = await direct.toArray();
  assertClose(await through.toArray(), z, { atol: 1e-12, rtol: 1e-10 });
  // The norm constraint holds: ‖z − h‖ ≤ c·‖h‖ for every fact, and it binds for some.
  const { h } = await keysAndStream(lm, facts, 0, 1);
  const d = lm.config.dModel;
  let binds = 0;
  for (let i = 0; i < facts.length; i++) {
    let dz = 0;
    let hh = 0;
    for (let j = 0; j < d; j++) {
      dz += (z[i * d + j] - h[i * d + j]) ** 2;
      hh += h[i * d + j] ** 2;
    }
    ok(Math.sqrt(dz) <= o.clamp * Math.sqrt(hh) * (1 + 1e-9), `fact ${i}`);
    if (Math.sqrt(dz) > 0.999 * o.clamp * Math.sqrt(hh)) binds++;
    // The answer's first position is edited directly, so those facts must move.
    if (i % 2 === 0) ok(dz > 0, `fact ${i} moved`);
  }
  ok(binds > 0, "the clamp must bind for some fact at this learning rate");
  for (const t of [through, direct]) t.dispose();
  lm.dispose();
});
