// The edited projection (`mlp.c_proj`): a shift computes with W + ΔW and reverts exactly, its
// gradient is the weight's, and a capture tap returns keys and value-gradients whose products
// rebuild ∂L/∂W.
import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual as assertNotEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { assertClose } from "../../../_check.ts";
import { bothBackendsTest } from "../../../_gpu.ts";
import { CPU } from "../../../../engine/backend.ts";
import { noGrad } from "../../../../engine/autograd.ts";
import { tensor, zeros } from "../../../../engine/ops/creation.ts";
import { mul } from "../../../../engine/ops/elementwise.ts";
import { matmul } from "../../../../engine/ops/matmul.ts";
import { tidy } from "../../../../engine/scope.ts";
import type { Tensor } from "../../../../engine/tensor.ts";
import { lmLoss } from "../../../../engine/models/gpt/model.ts";
import { seeded } from "./_fixtures.ts";
import { B, dropGrads, ids, labels, randomModel, SMALL, T } from "./_models.ts";

bothBackendsTest(
  `\`EditableLinear.setShift()\` changes the outputs and reverting restores them exactly`,
  async (backend) => {
    const model = randomModel(SMALL, backend, 6);
    const proj = (l: number) => model.h.at(l).mlp.c_proj;
    const x = ids(backend);
    const run = () => noGrad(() => model.logits(x).toArray());
    const w = model.getParameter("h.1.mlp.c_proj.weight");
    const wBefore = await w.toArray();
    const base = await run();
    const shift = tensor(seeded([60, 15], 9, -0.2, 0.2), [60, 15], { backend });
    proj(1).setShift(shift);
    assertEquals(proj(1).shift, shift);
    const shifted = await run();
    assertNotEquals(shifted, base);
    // Same as writing W + shift into the weight.
    const edited = randomModel(SMALL, backend, 6);
    const sv = await shift.toArray();
    edited.loadStateDict(
      new Map([["h.1.mlp.c_proj.weight", {
        shape: [60, 15],
        data: wBefore.map((v, i) => v + sv[i]),
      }]]),
      { strict: false },
    );
    const direct = await noGrad(() => edited.logits(x).toArray());
    assertClose(shifted, direct, { atol: 1e-5, rtol: 1e-5 }, "W + shift");
    proj(1).setShift(null);
    assertEquals(await run(), base);
    assertEquals(await w.toArray(), wBefore);
    proj(0).setShift(shift);
    assertNotEquals(await run(), base);
    proj(0).setShift(null);
    assertEquals(await run(), base);
    edited.dispose();
    model.dispose();
  },
);

bothBackendsTest(
  `a leaf shift's gradient equals the gradient of the weight itself`,
  async (backend) => {
    const model = randomModel(SMALL, backend, 7);
    const shift = zeros([60, 15], { backend, requiresGrad: true });
    model.h.at(0).mlp.c_proj.setShift(shift);
    tidy(() => model.loss(ids(backend), labels(backend)).backward());
    const g = await shift.grad!.toArray();
    assertEquals(g, await model.getParameter("h.0.mlp.c_proj.weight").grad!.toArray());
    assert(g.some((v) => v !== 0));
    // A frozen model gives the same G through the shift alone.
    dropGrads(model.parameters().values());
    model.setTrainable(false);
    shift.grad!.dispose();
    shift.grad = null;
    tidy(() => model.loss(ids(backend), labels(backend)).backward());
    assertEquals(await shift.grad!.toArray(), g);
    for (const p of model.parameters().values()) assertEquals(p.grad, null);
    model.dispose();
  },
);

Deno.test("a shift with an autograd graph passes gradients back into it", async () => {
  const model = randomModel(SMALL, CPU, 8);
  const values = seeded([60, 15], 3, -0.1, 0.1);
  // shift = 3·base, so ∂L/∂base = 3·G, with G read from a leaf shift of the same value.
  const base = tensor(values, [60, 15], { backend: CPU, requiresGrad: true });
  model.h.at(1).mlp.c_proj.setShift(mul(base, 3));
  model.loss(ids(CPU), labels(CPU)).backward();
  const leaf = tensor(values.map((v) => 3 * v), [60, 15], { backend: CPU, requiresGrad: true });
  model.h.at(1).mlp.c_proj.setShift(leaf);
  model.loss(ids(CPU), labels(CPU)).backward();
  const g = await leaf.grad!.toArray();
  assert(g.some((v) => v !== 0));
  assertClose(await base.grad!.toArray(), g.map((v) => 3 * v), { atol: 1e-14, rtol: 1e-12 }, "3·G");
  dropGrads(model.parameters().values());
  model.dispose();
});

bothBackendsTest(
  `capture returns c_proj inputs as keys and the rows of ∂L/∂(c_proj output)`,
  async (backend) => {
    const model = randomModel(SMALL, backend, 9);
    const x = ids(backend);
    const y = labels(backend);
    const all = tensor(Array.from({ length: B * T }, (_, i) => i), [B * T], {
      backend,
      dtype: "int32",
    });
    const some = [20, 3, 9, 26];
    const subset = tensor(some, [some.length], { backend, dtype: "int32" });
    const run = (positions: Tensor, layers: number[]) => {
      const taps = layers.map((l) => model.h.at(l).mlp.c_proj.startCapture(positions));
      tidy(() => lmLoss(model.forward(x), y).backward());
      const out = taps.map((t, i) => ({ layer: layers[i], ...t.take() }));
      for (const l of layers) model.h.at(l).mlp.c_proj.stopCapture();
      return out;
    };
    const full = run(all, [0, 1]);
    // Σ_j u_j δ_jᵀ over every row is ∂L/∂W of that layer: an independent check of both.
    for (const c of full) {
      const g = await model.getParameter(`h.${c.layer}.mlp.c_proj.weight`).grad!.toArray();
      const kd = matmul(c.keys, c.valueGrads, { transA: true });
      const tol = backend.kind === "cpu"
        ? { atol: 1e-14, rtol: 1e-10 }
        : { atol: 1e-6, rtol: 1e-4 };
      assertClose(await kd.toArray(), g, tol, `layer ${c.layer} Kᵀ·Δ`);
      assertEquals(c.keys.shape, [B * T, 60]);
      assertEquals(c.valueGrads.shape, [B * T, 15]);
    }
    dropGrads(model.parameters().values());
    // A subset in another layer order: the same rows, in request order.
    const part = run(subset, [1, 0]);
    for (const c of part) {
      const f = full.find((q) => q.layer === c.layer)!;
      const kf = await f.keys.toArray();
      const df = await f.valueGrads.toArray();
      const rows = (v: ArrayLike<number>, w: number) =>
        some.flatMap((r) => Array.from(v).slice(r * w, r * w + w));
      assertEquals(Array.from(await c.keys.toArray()), rows(kf, 60));
      assertEquals(Array.from(await c.valueGrads.toArray()), rows(df, 15));
    }
    dropGrads(model.parameters().values());
    // A frozen model: backward stops at the lowest tap and the value-gradients are unchanged.
    model.setTrainable(false);
    const frozen = run(subset, [1, 0]);
    for (let i = 0; i < 2; i++) {
      assertEquals(
        await frozen[i].valueGrads.toArray(),
        await part[i].valueGrads.toArray(),
      );
    }
    for (const p of model.parameters().values()) assertEquals(p.grad, null);
    for (const c of [...full, ...part, ...frozen]) {
      c.keys.dispose();
      c.valueGrads.dispose();
    }
    model.dispose();
  },
);

Deno.test("`EditableLinear` rejects bad shifts and a second capture with clear errors", () => {
  const model = randomModel(SMALL, CPU, 1);
  const proj = model.h.at(0).mlp.c_proj;
  assertThrows(
    () => proj.setShift(zeros([15, 60], { backend: CPU })),
    /Shift must be float "\[60,15\]", got float32 "\[15,60\]"/,
  );
  const positions = tensor([0, 1], [2], { backend: CPU, dtype: "int32" });
  const tap = proj.startCapture(positions);
  assertThrows(() => proj.startCapture(positions), /already being captured/);
  noGrad(() => model.forward(ids(CPU)));
  // One tap records one forward pass; a second would mix two batches' rows.
  assertThrows(() => noGrad(() => model.forward(ids(CPU))), /records one forward pass/);
  assertThrows(() => tap.take(), /received no value-gradient/);
  proj.stopCapture();
  model.dispose();
});

Deno.test("a forward-only capture hands over the keys alone with `takeKeys()`", async () => {
  const model = randomModel(SMALL, CPU, 3);
  const proj = model.h.at(0).mlp.c_proj;
  const positions = tensor([0, 3], [2], { backend: CPU, dtype: "int32" });
  const tap = proj.startCapture(positions);
  noGrad(() => model.forward(ids(CPU)));
  const keys = tap.takeKeys();
  // The same rows a full capture (forward and backward) takes.
  proj.stopCapture();
  const full = proj.startCapture(positions);
  tidy(() => lmLoss(model.forward(ids(CPU)), labels(CPU)).backward());
  const both = full.take();
  assertEquals(await keys.toArray(), await both.keys.toArray());
  assertThrows(() => full.takeKeys(), /saw no forward pass/);
  proj.stopCapture();
  dropGrads(model.parameters().values());
  for (const t of [keys, both.keys, both.valueGrads]) t.dispose();
  model.dispose();
});

Deno.test("`EditableLinear` without shift or tap is a plain `Linear`", async () => {
  const model = randomModel(SMALL, CPU, 2);
  const proj = model.h.at(1).mlp.c_proj;
  const h = tensor(seeded([4, 60], 5), [4, 60], { backend: CPU });
  const got = await proj.forward(h).toArray();
  const want = await matmul(h, proj.weight).toArray();
  const bias = await proj.bias!.toArray();
  assertClose(got, Float64Array.from(want, (v, i) => v + bias[i % 15]), {
    atol: 1e-14,
    rtol: 0,
  });
  model.dispose();
});
