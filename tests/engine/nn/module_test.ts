import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual as assertNotEquals,
  ok as assert,
  strictEqual as assertSame,
  throws as assertThrows,
} from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { CPU } from "../../../engine/backend.ts";
import { Embedding } from "../../../engine/nn/embedding.ts";
import { normalInit } from "../../../engine/nn/init.ts";
import { LayerNorm } from "../../../engine/nn/layer_norm.ts";
import { Linear } from "../../../engine/nn/linear.ts";
import { Module, ModuleList } from "../../../engine/nn/module.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { memoryStats } from "../../../engine/memory.ts";
import type { Backend } from "../../../engine/backend.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { seeded } from "./_fixtures.ts";

class Mlp extends Module {
  readonly c_fc: Linear;
  readonly c_proj: Linear;
  constructor(backend: Backend) {
    super();
    this.c_fc = this.addModule("c_fc", new Linear(4, 6, { backend, seed: 1 }));
    this.c_proj = this.addModule("c_proj", new Linear(6, 4, { backend, seed: 2 }));
  }
}

class Block extends Module {
  readonly ln_1: LayerNorm;
  readonly mlp: Mlp;
  constructor(backend: Backend) {
    super();
    this.ln_1 = this.addModule("ln_1", new LayerNorm(4, { backend }));
    this.mlp = this.addModule("mlp", new Mlp(backend));
  }
}

// A GPT-2-shaped toy: embeddings, a list of blocks, and an output head tied to `wte`.
class Toy extends Module {
  readonly wte: Embedding;
  readonly h: ModuleList<Block>;
  constructor(backend: Backend = CPU) {
    super();
    this.wte = this.addModule("wte", new Embedding(9, 4, { backend, seed: 3 }));
    this.h = this.addModule("h", new ModuleList([new Block(backend), new Block(backend)]));
    this.registerParameter("lm_head", this.wte.weight);
  }
}

const values = async (t: Tensor): Promise<number[]> => Array.from(await t.toArray());

Deno.test("`Module.parameters()` names parameters hierarchically and lists tied ones once", () => {
  const m = new Toy();
  const names = [...m.parameters().keys()];
  assertEquals(names, [
    "wte.weight",
    ...[0, 1].flatMap((i) => [
      `h.${i}.ln_1.weight`,
      `h.${i}.ln_1.bias`,
      `h.${i}.mlp.c_fc.weight`,
      `h.${i}.mlp.c_fc.bias`,
      `h.${i}.mlp.c_proj.weight`,
      `h.${i}.mlp.c_proj.bias`,
    ]),
  ]);
  assertSame(m.getParameter("h.1.mlp.c_fc.weight"), m.h.at(1).mlp.c_fc.weight);
  assertSame(m.getParameter("lm_head"), m.wte.weight);
  assertEquals(m.getParameter("h.0.mlp.c_fc.weight").shape, [4, 6]);
  assertEquals(m.numParameters(), 9 * 4 + 2 * (8 + 30 + 28));
  assertEquals([...m.modules().keys()].slice(0, 4), ["", "wte", "h", "h.0"]);
  assertThrows(
    () => m.getParameter("h.7.mlp.c_fc.weight"),
    /No parameter "h.7.mlp.c_fc.weight": no module "7"/,
  );
  m.dispose();
});

Deno.test("`Linear.forward()` computes x·W + b with W stored [in, out]", async () => {
  const lin = new Linear(3, 2, { seed: 5 });
  assertEquals(lin.weight.shape, [3, 2]);
  const w = await values(lin.weight);
  const x = tensor([[1, 2, 3], [-1, 0.5, 2]]);
  const y = await values(lin.forward(x));
  const want = [0, 1].flatMap((r) =>
    [0, 1].map((j) =>
      [0, 1, 2].reduce((s, k) => s + [[1, 2, 3], [-1, 0.5, 2]][r][k] * w[k * 2 + j], 0)
    )
  );
  assertClose(y, want, { atol: 1e-12, rtol: 0 }, "y");
  const noBias = new Linear(3, 2, { bias: false });
  assertSame(noBias.bias, null);
  assertEquals([...noBias.parameters().keys()], ["weight"]);
});

Deno.test("`Linear` initialisation is seeded, N(0, 0.02²) by default, and zero for the bias", async () => {
  const a = await values(new Linear(64, 50, { seed: 9 }).weight);
  const b = await values(new Linear(64, 50, { seed: 9 }).weight);
  const c = await values(new Linear(64, 50, { seed: 10 }).weight);
  assertEquals(a, b);
  assertNotEquals(a, c);
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  const std = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
  assert(Math.abs(mean) < 0.002 && Math.abs(std - 0.02) < 0.001, `mean ${mean}, std ${std}`);
  const wide = await values(new Linear(64, 50, { seed: 9, std: 0.5 }).weight);
  assertClose(
    wide,
    a.map((x) => x * 25),
    { atol: 1e-12, rtol: 1e-9 },
    "std scales the same stream",
  );
  assertEquals(await values(new Linear(2, 3).bias!), [0, 0, 0]);
});

Deno.test("`Module.initialize()` draws by full name, independent of construction seeds", async () => {
  const a = new Toy();
  const b = new Toy();
  a.initialize(7);
  b.initialize(7);
  for (const [name, t] of a.parameters()) {
    assertEquals(await values(t), await values(b.getParameter(name)), name);
  }
  // Same local seeds before, different streams after: h.0 and h.1 no longer share values.
  assertNotEquals(await values(a.h.at(0).mlp.c_fc.weight), await values(a.h.at(1).mlp.c_fc.weight));
  assertEquals(await values(a.h.at(0).ln_1.weight), [1, 1, 1, 1]);
  b.initialize(7, (name, init) => (name.endsWith("c_proj.weight") ? normalInit(0) : init));
  assertEquals(
    (await values(b.h.at(1).mlp.c_proj.weight)).map((x) => x + 0),
    new Array(24).fill(0),
  );
  assertEquals(await values(b.h.at(1).mlp.c_fc.weight), await values(a.h.at(1).mlp.c_fc.weight));
});

Deno.test("`Module.loadStateDict()` names the parameter and both shapes on a mismatch", async () => {
  const m = new Toy();
  const state = new Map<string, Tensor>(m.stateDict());
  const before = await values(m.wte.weight);
  state.set("wte.weight", tensor(seeded([9, 4], 1), [9, 4]));
  state.set("h.1.mlp.c_fc.weight", tensor(seeded([6, 4], 2), [6, 4]));
  assertThrows(
    () => m.loadStateDict(state),
    {
      name: "RangeError",
      message:
        'Cannot load "h.1.mlp.c_fc.weight": the model has shape "[4,6]", the state dict "[6,4]"',
    },
  );
  // Validation precedes every write: wte is unchanged.
  assertEquals(await values(m.wte.weight), before);
});

Deno.test("`Module.loadStateDict()` rejects missing and unexpected names unless not strict", async () => {
  const m = new Linear(2, 3);
  const w = tensor([[1, 2, 3], [4, 5, 6]]);
  assertThrows(
    () => m.loadStateDict(new Map([["weight", w], ["extra", w]])),
    /Cannot load the state dict: missing "bias"; unexpected "extra"/,
  );
  const report = m.loadStateDict(new Map([["weight", w], ["extra", w]]), { strict: false });
  assertEquals(report, { missing: ["bias"], unexpected: ["extra"] });
  assertEquals(await values(m.weight), [1, 2, 3, 4, 5, 6]);
  // Host values (a decoded safetensors entry) load too.
  m.loadStateDict(
    new Map([["weight", { shape: [2, 3], data: [6, 5, 4, 3, 2, 1] }], ["bias", {
      shape: [3],
      data: new Float32Array([1, 1, 1]),
    }]]),
  );
  assertEquals(await values(m.weight), [6, 5, 4, 3, 2, 1]);
  assertEquals(await values(m.bias!), [1, 1, 1]);
});

Deno.test("`Module.arena()` moves trainable parameters into arena views and re-points the tree", async () => {
  const m = new Toy();
  const old = m.h.at(0).mlp.c_fc.weight;
  const want = await values(old);
  m.h.at(1).ln_1.weight.requiresGrad = false;
  const arena = m.arena();
  assertSame(m.arena(), arena);
  assert(old.disposed);
  const now = m.h.at(0).mlp.c_fc.weight;
  assertSame(now, arena.param("h.0.mlp.c_fc.weight"));
  assertEquals(await values(now), want);
  // The tied head follows the embedding into the arena; the frozen gain stays outside.
  assertSame(m.getParameter("lm_head"), arena.param("wte.weight"));
  assert(!arena.names.includes("h.1.ln_1.weight"));
  assert(!m.h.at(1).ln_1.weight.disposed);
  assertEquals(arena.size, m.numParameters() - 4);
  m.dispose();
  assert(arena.disposed);
});

Deno.test("`Embedding.forward()` and `LayerNorm.forward()` use their parameters", async () => {
  const e = new Embedding(5, 3, { seed: 2 });
  const table = await values(e.weight);
  const ids = tensor([4, 0, 4], [3], { dtype: "int32" });
  assertEquals(await values(e.forward(ids)), [
    ...table.slice(12),
    ...table.slice(0, 3),
    ...table.slice(12),
  ]);
  const ln = new LayerNorm(4);
  ln.loadStateDict(
    new Map([["weight", { shape: [4], data: [2, 2, 2, 2] }], ["bias", {
      shape: [4],
      data: [1, 1, 1, 1],
    }]]),
  );
  const y = await values(ln.forward(tensor([[1, 2, 3, 4]])));
  const sd = Math.sqrt(1.25 + 1e-5);
  assertClose(y, [-1.5, -0.5, 0.5, 1.5].map((d) => (2 * d) / sd + 1), { atol: 1e-9, rtol: 0 }, "y");
});

gpuTest("`Module.loadStateDict()` rejects tensors from another backend", (gpu) => {
  const m = new Linear(2, 2, { backend: gpu, bias: false });
  const w = tensor([[1, 2], [3, 4]], undefined, { backend: CPU });
  assertThrows(
    () => m.loadStateDict(new Map([["weight", w]])),
    /"weight": the tensor is on cpu, the model on webgpu/,
  );
  m.dispose();
});

gpuTest("`Module.dispose()` releases every parameter and the arena", async (gpu) => {
  await gpu.dispatcher.sync();
  const before = memoryStats(gpu);
  const m = new Toy(gpu);
  m.arena();
  m.dispose();
  const after = memoryStats(gpu);
  assertEquals([after.liveBytes, after.liveTensors], [before.liveBytes, before.liveTensors]);
});
