import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual as assertNotEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { assertClose } from "../../../_check.ts";
import { bothBackendsTest, gpuTest } from "../../../_gpu.ts";
import { type Backend, CPU } from "../../../../engine/backend.ts";
import { noGrad } from "../../../../engine/autograd.ts";
import { tensor } from "../../../../engine/ops/creation.ts";
import { mul } from "../../../../engine/ops/elementwise.ts";
import { gather } from "../../../../engine/ops/gather.ts";
import { reshape } from "../../../../engine/ops/view.ts";
import { memoryStats } from "../../../../engine/memory.ts";
import { tidy } from "../../../../engine/scope.ts";
import type { Tensor } from "../../../../engine/tensor.ts";
import { gptConfig, parameterShapes } from "../../../../engine/models/gpt/config.ts";
import { GPT, lmLoss } from "../../../../engine/models/gpt/model.ts";
import { disposeBatch, editBatch } from "../../../../engine/models/gpt/batch.ts";
import { residualStd } from "../../../../engine/models/gpt/block.ts";
import { seededInts } from "./_fixtures.ts";
import { B, dropGrads, ids, labels, MICRO, randomModel, SMALL, T } from "./_models.ts";
import { referenceLogits } from "./_reference.ts";

async function read(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await t.toArray());
}

Deno.test("`GPT` names and shapes its parameters like HF GPT-2", () => {
  const model = new GPT(SMALL, { backend: CPU });
  const got = new Map([...model.parameters()].map(([n, t]) => [n, [...t.shape]]));
  assertEquals(got, parameterShapes(SMALL));
  model.dispose();
});

Deno.test("`GPT` initialises like GPT-2, deterministically from the seed", async () => {
  const config = gptConfig(SMALL, { dModel: 64, nHead: 4, nLayer: 3 });
  const a = new GPT(config, { backend: CPU, seed: 5 });
  const std = async (name: string): Promise<number> => {
    const v = await a.getParameter(name).toArray();
    return Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0) / v.length);
  };
  assertClose([await std("h.1.mlp.c_fc.weight")], [0.02], { atol: 0, rtol: 0.03 }, "c_fc std");
  assertClose([await std("wte.weight")], [0.02], { atol: 0, rtol: 0.05 }, "wte std");
  for (const name of ["h.2.mlp.c_proj.weight", "h.0.attn.c_proj.weight"]) {
    assertClose([await std(name)], [residualStd(3)], { atol: 0, rtol: 0.05 }, name);
  }
  assertEquals(
    Array.from(await a.getParameter("h.0.ln_1.weight").toArray()),
    new Array(64).fill(1),
  );
  assertEquals(
    Array.from(await a.getParameter("h.0.attn.c_attn.bias").toArray()),
    new Array(192).fill(0),
  );
  // Same seed → same values; layers differ from each other; another seed differs.
  const b = new GPT(config, { backend: CPU, seed: 5 });
  const c = new GPT(config, { backend: CPU, seed: 6 });
  const w = (m: GPT, n: string): Promise<unknown> => m.getParameter(n).toArray();
  assertEquals(await w(a, "h.1.mlp.c_fc.weight"), await w(b, "h.1.mlp.c_fc.weight"));
  assertNotEquals(await w(a, "h.1.mlp.c_fc.weight"), await w(a, "h.2.mlp.c_fc.weight"));
  assertNotEquals(await w(a, "h.1.mlp.c_fc.weight"), await w(c, "h.1.mlp.c_fc.weight"));
  for (const m of [a, b, c]) m.dispose();
});

Deno.test("`GPT.logits()` matches a naive float64 GPT-2 written from the HF definition", async () => {
  const model = randomModel(SMALL, CPU, 2);
  const weights = new Map<string, ArrayLike<number>>();
  for (const [name, p] of model.parameters()) weights.set(name, await p.toArray());
  const tokens = seededInts(2 * T, SMALL.vocabSize, 5);
  const got = await noGrad(() =>
    model.logits(tensor(tokens, [2, T], { backend: CPU, dtype: "int32" }))
  )
    .toArray();
  const want = [0, 1].flatMap((b) =>
    referenceLogits(SMALL, weights, tokens.slice(b * T, (b + 1) * T)).flat()
  );
  assertClose(got, want, { atol: 1e-12, rtol: 1e-10 }, "logits");
  model.dispose();
});

Deno.test("`GPT.loss()` gradients match finite differences in float64", async () => {
  const model = randomModel(MICRO, CPU, 3);
  const x = ids(CPU, 21, 2, 5, MICRO.vocabSize);
  const y = labels(CPU, 22, 2, 5, MICRO.vocabSize);
  model.loss(x, y).backward();
  const probes: [string, number][] = [
    ["wte.weight", 7],
    ["wte.weight", 40],
    ["wpe.weight", 13],
    ["h.0.ln_1.weight", 2],
    ["h.0.attn.c_attn.weight", 29],
    ["h.0.attn.c_attn.bias", 4],
    ["h.0.attn.c_attn.bias", 15],
    ["h.1.attn.c_proj.weight", 17],
    ["h.1.ln_2.bias", 5],
    ["h.0.mlp.c_fc.weight", 100],
    ["h.1.mlp.c_proj.weight", 61],
    ["h.1.mlp.c_proj.bias", 1],
    ["ln_f.weight", 3],
  ];
  const eps = 1e-6;
  for (const [name, i] of probes) {
    const p = model.getParameter(name);
    const a = p.storage.array as Float64Array;
    const keep = a[p.offset + i];
    const at = (v: number): number => {
      a[p.offset + i] = v;
      return noGrad(() => tidy(() => (model.loss(x, y).storage.array as Float64Array)[0]));
    };
    const fd = (at(keep + eps) - at(keep - eps)) / (2 * eps);
    a[p.offset + i] = keep;
    const g = (await p.grad!.toArray())[i];
    assertClose([g], [fd], { atol: 1e-8, rtol: 1e-6 }, `${name}[${i}]`);
  }
  dropGrads(model.parameters().values());
  model.dispose();
});

gpuTest(
  "`GPT` on WebGPU matches the float64 reference: logits and every parameter gradient",
  async (gpu) => {
    const results = [];
    for (const backend of [CPU, gpu] as Backend[]) {
      const model = randomModel(SMALL, backend, 4);
      const x = ids(backend);
      const y = labels(backend);
      const logits = tidy(() => {
        const out = model.forward(x);
        const loss = mul(model.loss(x, y), 1);
        loss.backward();
        return out;
      });
      const grads = new Map<string, Float64Array>();
      for (const [name, p] of model.parameters()) grads.set(name, await read(p.grad!));
      results.push({ logits: await read(logits), grads });
      dropGrads(model.parameters().values());
      model.dispose();
    }
    const [ref, got] = results;
    assertClose(got.logits, ref.logits, { atol: 2e-5, rtol: 1e-4 }, "logits");
    for (const [name, g] of ref.grads) {
      assertClose(got.grads.get(name)!, g, { atol: 2e-6, rtol: 2e-3 }, `${name} gradient`);
    }
  },
);

bothBackendsTest(
  `\`GPT.forward()\` is causal: a later token never changes earlier logits`,
  async (backend) => {
    const model = randomModel(SMALL, backend, 5);
    const base = seededInts(B * T, SMALL.vocabSize, 31);
    const changed = base.map((v, i) => (i % T === 6 ? (v + 1) % SMALL.vocabSize : v));
    const run = (v: number[]) =>
      noGrad(() => model.logits(tensor(v, [B, T], { backend, dtype: "int32" })).toArray());
    const a = await run(base);
    const b = await run(changed);
    const V = SMALL.vocabSize;
    for (let r = 0; r < B; r++) {
      const before = (x: ArrayLike<number>) => Array.from(x).slice(r * T * V, (r * T + 6) * V);
      assertEquals(before(b), before(a));
      const at6 = (x: ArrayLike<number>) => Array.from(x).slice((r * T + 6) * V, (r * T + 7) * V);
      assertNotEquals(at6(b), at6(a));
    }
    model.dispose();
  },
);

Deno.test("`GPT.forward()` rejects bad inputs with clear errors", () => {
  const model = new GPT(SMALL, { backend: CPU });
  assertThrows(
    () => model.forward(tensor(new Array(12).fill(0), [1, 12], { backend: CPU, dtype: "int32" })),
    /Input "\[1,12\]" is longer than the context of 11 tokens/,
  );
  assertThrows(() => model.forward(tensor([1, 2], [1, 2], { backend: CPU })), /int32 token ids/);
  model.dispose();
});

gpuTest("a training step inside `tidy()` leaves only the gradients alive", async (gpu) => {
  const model = randomModel(SMALL, gpu, 10);
  const x = ids(gpu);
  const y = labels(gpu);
  tidy(() => model.loss(x, y).backward());
  dropGrads(model.parameters().values());
  const before = memoryStats(gpu).liveTensors;
  tidy(() => model.loss(x, y).backward());
  const grads = [...model.parameters().values()].filter((p) => p.grad !== null).length;
  assertEquals(memoryStats(gpu).liveTensors, before + grads);
  dropGrads(model.parameters().values());
  model.dispose();
  await gpu.dispatcher.sync();
});

// Flat rows of the B·T = 27 positions, out of order and with a repeat (its gradient adds up).
const AT_ROWS = [20, 3, 9, 26, 0, 9, 13];
const AT_TARGETS = [5, 0, 36, 12, 7, 21, 2];

bothBackendsTest(
  `\`GPT.forward({ at })\` equals the rows of the full logits at those positions`,
  async (backend) => {
    const model = randomModel(SMALL, backend, 12);
    const x = ids(backend, 41);
    const at = tensor(AT_ROWS, [AT_ROWS.length], { backend, dtype: "int32" });
    const [full, part] = noGrad(() => [model.forward(x), model.forward(x, { at })]);
    const V = SMALL.vocabSize;
    assertEquals(full.shape, [B, T, V]);
    assertEquals(part.shape, [AT_ROWS.length, V]);
    const f = await full.toArray();
    const want = AT_ROWS.flatMap((r) => Array.from(f).slice(r * V, (r + 1) * V));
    const tol = backend.kind === "cpu" ? { atol: 1e-12, rtol: 1e-10 } : { atol: 1e-4, rtol: 1e-4 };
    assertClose(await part.toArray(), want, tol, "logits at rows");
    // Rows really differ from each other (the check is not vacuous).
    assertNotEquals(want.slice(0, V), want.slice(V, 2 * V));
    for (const t of [full, part, at, x]) t.dispose();
    model.dispose();
  },
);

bothBackendsTest(
  `a loss on \`at\` logits has the gradients of the same loss on gathered full logits`,
  async (backend) => {
    const model = randomModel(SMALL, backend, 13);
    const x = ids(backend, 42);
    const at = tensor(AT_ROWS, [AT_ROWS.length], { backend, dtype: "int32" });
    const y = tensor(AT_TARGETS, [AT_TARGETS.length], { backend, dtype: "int32" });
    const grads = async (fn: () => Tensor): Promise<Map<string, Float64Array>> => {
      const loss = tidy(() => {
        const l = fn();
        l.backward();
        return l;
      });
      const out = new Map<string, Float64Array>();
      out.set("loss", await read(loss));
      for (const [name, p] of model.parameters()) out.set(name, await read(p.grad!));
      dropGrads(model.parameters().values());
      loss.dispose();
      return out;
    };
    const viaAt = await grads(() => lmLoss(model.forward(x, { at }), y));
    const viaFull = await grads(() => {
      const logits = model.forward(x);
      return lmLoss(gather(reshape(logits, [B * T, SMALL.vocabSize]), at, 0), y);
    });
    const tol = backend.kind === "cpu" ? { atol: 1e-13, rtol: 1e-10 } : { atol: 2e-6, rtol: 2e-3 };
    for (const [name, g] of viaFull) {
      assertClose(viaAt.get(name)!, g, tol, `${name} gradient`);
    }
    // Every parameter is reached (wpe only through the used positions; wte twice).
    assert(viaAt.get("h.1.mlp.c_proj.weight")!.some((v) => v !== 0));
    assert(viaAt.get("ln_f.weight")!.some((v) => v !== 0));
    for (const t of [at, y, x]) t.dispose();
    model.dispose();
  },
);

Deno.test("`GPT.forward({ at })` with a batch's positions pairs with `batch.targets`", async () => {
  const model = randomModel(SMALL, CPU, 14);
  const batch = editBatch([
    { prompt: [1, 2, 3], answer: [4, 5] },
    { prompt: [6], answer: [7, 8, 9] },
    { prompt: [10, 11, 12, 13, 14], answer: [15] },
  ], { backend: CPU });
  const [part, full] = noGrad(() => [
    lmLoss(model.forward(batch.ids, { at: batch.positions }), batch.targets),
    lmLoss(model.forward(batch.ids), batch.labels),
  ]);
  // Mean cross-entropy over the same supervised positions, however the logits were computed.
  assertClose(await part.toArray(), await full.toArray(), { atol: 1e-12, rtol: 1e-10 }, "loss");
  part.dispose();
  full.dispose();
  disposeBatch(batch);
  model.dispose();
});

Deno.test("`GPT` with a non-4d FFN width matches the float64 reference and edits `[dInner, d]`", async () => {
  const config = gptConfig(SMALL, { dInner: 22 });
  const model = randomModel(config, CPU, 4);
  assertEquals(model.getParameter("h.1.mlp.c_proj.weight").shape, [22, SMALL.dModel]);
  const weights = new Map<string, ArrayLike<number>>();
  for (const [name, p] of model.parameters()) weights.set(name, await p.toArray());
  const tokens = seededInts(T, config.vocabSize, 6);
  const got = await noGrad(() =>
    model.logits(tensor(tokens, [1, T], { backend: CPU, dtype: "int32" }))
  )
    .toArray();
  assertClose(got, referenceLogits(config, weights, tokens).flat(), { atol: 1e-12, rtol: 1e-10 });
  assertThrows(
    () =>
      model.h.at(1).mlp.c_proj.setShift(
        tensor(
          new Array(4 * SMALL.dModel * SMALL.dModel).fill(0),
          [4 * SMALL.dModel, SMALL.dModel],
          { backend: CPU },
        ),
      ),
    /must be float "\[22,15\]"/,
  );
  model.dispose();
});
