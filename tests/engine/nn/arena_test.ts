import {
  deepStrictEqual as assertEquals,
  ok as assert,
  strictEqual as assertSame,
  throws as assertThrows,
} from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { AdamW } from "../../../engine/nn/adamw.ts";
import { ParamArena } from "../../../engine/nn/arena.ts";
import type { ArenaSpec } from "../../../engine/nn/arena_layout.ts";
import { writeHost } from "../../../engine/nn/host_io.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { mul } from "../../../engine/ops/elementwise.ts";
import { sum } from "../../../engine/ops/reduce.ts";
import { memoryStats } from "../../../engine/memory.ts";
import { tidy } from "../../../engine/scope.ts";
import { f32, seeded } from "./_fixtures.ts";

function both(name: string, fn: (b: Backend) => Promise<void> | void): void {
  Deno.test(`${name} (cpu)`, () => fn(CPU));
  gpuTest(`${name} (webgpu)`, fn);
}

// Odd sizes; on WebGPU the first one alone spans several partial-sum workgroups.
const BIG: ArenaSpec[] = [
  { name: "w", shape: [301, 257] },
  { name: "b", shape: [1001] },
  { name: "u", shape: [13, 7] },
];

function fillGrads(arena: ParamArena, specs: readonly ArenaSpec[]): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  specs.forEach((s, k) => {
    const g = seeded(s.shape, 40 + k, -3, 3);
    writeHost(arena.grad(s.name), g);
    out.set(s.name, g);
  });
  return out;
}

function norm(grads: Iterable<Float64Array>, round: (v: Float64Array) => Float64Array): number {
  let sq = 0;
  for (const g of grads) for (const x of round(g)) sq += x * x;
  return Math.sqrt(sq);
}

both("`ParamArena` backward accumulates into the pre-set gradient views in place", async (b) => {
  const arena = new ParamArena([{ name: "w", shape: [3, 5] }, { name: "c", shape: [5] }], {
    backend: b,
  });
  const w = arena.param("w");
  const gradView = w.grad;
  assert(gradView !== null && w.requiresGrad);
  const coef = tensor(seeded([3, 5], 3), [3, 5], { backend: b });
  for (let i = 0; i < 2; i++) tidy(() => sum(mul(w, coef)).backward());
  assertSame(w.grad, gradView);
  assertClose(
    await arena.grad("w").toArray(),
    Float64Array.from(f32(seeded([3, 5], 3)), (x) => 2 * x),
    {
      atol: 1e-6,
      rtol: 1e-6,
    },
    "twice-accumulated gradient",
  );
  // The untouched parameter's gradient stays zero.
  assertClose(await arena.grad("c").toArray(), new Float64Array(5), { atol: 0, rtol: 0 }, "c");
  coef.dispose();
  arena.dispose();
});

both("`ParamArena.zeroGrad()` zeroes every gradient and re-attaches a replaced one", async (b) => {
  const arena = new ParamArena(BIG, { backend: b, maxSegmentBytes: 4 * 78000 });
  assertEquals(arena.segments.length, 2);
  fillGrads(arena, BIG);
  arena.param("u").grad = null;
  const before = b.kind === "webgpu" ? b.dispatcher.stats().dispatches : 0;
  arena.zeroGrad();
  if (b.kind === "webgpu") assertEquals(b.dispatcher.stats().dispatches - before, 2);
  assertSame(arena.param("u").grad, arena.grad("u"));
  for (const s of BIG) {
    const g = await arena.grad(s.name).toArray();
    assert(g.every((x) => x === 0), `${s.name} not zero`);
  }
  arena.dispose();
});

both("`ParamArena.gradNorm()` matches the float64 norm over several segments", async (b) => {
  const arena = new ParamArena(BIG, { backend: b, maxSegmentBytes: 4 * 78000 });
  const grads = fillGrads(arena, BIG);
  const before = b.kind === "webgpu" ? b.dispatcher.stats().dispatches : 0;
  const n = arena.gradNorm();
  // One partial-sum dispatch per segment and one final dispatch.
  if (b.kind === "webgpu") assertEquals(b.dispatcher.stats().dispatches - before, 3);
  assertEquals(n.shape, []);
  const want = norm(grads.values(), b.kind === "cpu" ? (v) => v : f32);
  assertClose(
    [await n.item()],
    [want],
    b.kind === "cpu" ? { atol: 0, rtol: 1e-14 } : { atol: 0, rtol: 2e-6 },
    "norm",
  );
  assertClose([await arena.lastGradNorm.item()], [want], { atol: 0, rtol: 2e-6 }, "lastGradNorm");
  n.dispose();
  arena.dispose();
});

both(
  "`ParamArena.clipGradNorm()` scales gradients to maxNorm only when the norm exceeds it",
  async (b) => {
    const arena = new ParamArena(BIG.slice(1), { backend: b });
    const grads = fillGrads(arena, BIG.slice(1));
    const want = norm(grads.values(), (v) => v);
    const tol = b.kind === "cpu" ? { atol: 1e-12, rtol: 1e-12 } : { atol: 1e-5, rtol: 2e-6 };
    const loose = arena.clipGradNorm(want * 2);
    assertClose([await loose.item()], [want], tol, "returned norm");
    assertClose(await arena.grad("b").toArray(), grads.get("b")!, tol, "unclipped gradient");
    const tight = arena.clipGradNorm(1.5);
    assertClose([await tight.item()], [want], tol, "returned norm");
    const after = arena.gradNorm();
    assertClose([await after.item()], [1.5], { atol: 1e-5, rtol: 1e-5 }, "clipped norm");
    const scale = 1.5 / (want + 1e-6);
    assertClose(
      await arena.grad("u").toArray(),
      Float64Array.from(grads.get("u")!, (x) => x * scale),
      tol,
      "u",
    );
    for (const t of [loose, tight, after]) t.dispose();
    assertThrows(() => arena.clipGradNorm(0), /finite positive maxNorm, got 0/);
    arena.dispose();
  },
);

both(
  "`ParamArena.fromTensors()` copies values and keeps frozen entries frozen and undecayed",
  async (b) => {
    const a = tensor([[1, 2, 3], [4, 5, 6]], undefined, { backend: b, requiresGrad: true });
    const c = tensor([[7, 8]], undefined, { backend: b });
    const arena = ParamArena.fromTensors(new Map([["a", a], ["c", c]]));
    assertSame(arena.backend, b);
    assertEquals(Array.from(await arena.param("a").toArray()), [1, 2, 3, 4, 5, 6]);
    assertEquals(Array.from(await arena.param("c").toArray()), [7, 8]);
    assert(arena.param("a").requiresGrad && !arena.param("c").requiresGrad);
    assert(!a.disposed && a.grad === null);
    assertEquals(arena.slot("a").decay, true);
    // The frozen matrix gets no decay, so a step leaves it exactly as it was.
    assertEquals(arena.slot("c").decay, false);
    const opt = new AdamW(arena, { weightDecay: 0.5 });
    opt.step();
    assertEquals(Array.from(await arena.param("c").toArray()), [7, 8]);
    opt.dispose();
    arena.dispose();
    a.dispose();
    c.dispose();
  },
);

Deno.test("`ParamArena.fromTensors()` rejects integer tensors", () => {
  const ids = tensor([1, 2], undefined, { dtype: "int32", backend: CPU });
  assertThrows(
    () => ParamArena.fromTensors(new Map([["ids", ids]])),
    /Parameter "ids" must be float, got int32/,
  );
  ids.dispose();
});

both("`AdamW.step()` leaves the arena's alignment padding at zero", async (b) => {
  const arena = new ParamArena([{ name: "w", shape: [3, 5] }, { name: "c", shape: [5] }], {
    backend: b,
  });
  writeHost(arena.param("w"), seeded([3, 5], 1));
  writeHost(arena.param("c"), seeded([5], 2));
  fillGrads(arena, [{ name: "w", shape: [3, 5] }, { name: "c", shape: [5] }]);
  const opt = new AdamW(arena, { lr: 0.1, weightDecay: 0.1, maxGradNorm: 1 });
  for (let i = 0; i < 3; i++) opt.step();
  const all = await arena.segments[0].param.toArray();
  const used = new Set<number>();
  for (const s of arena.plan.slots) for (let i = 0; i < s.size; i++) used.add(s.offset + i);
  all.forEach((x, i) => assert(used.has(i) || x === 0, `padding ${i} is ${x}`));
  assert(Array.from(await arena.param("c").toArray()).some((x, i) => x !== f32(seeded([5], 2))[i]));
  opt.dispose();
  arena.dispose();
});

both("`ParamArena` of no parameters has a zero norm and a no-op step", async (b) => {
  const arena = new ParamArena([], { backend: b });
  const n = arena.gradNorm();
  assertEquals(await n.item(), 0);
  const opt = new AdamW(arena, { maxGradNorm: 1 });
  opt.step();
  arena.zeroGrad();
  n.dispose();
  opt.dispose();
  arena.dispose();
});

gpuTest("`ParamArena.dispose()` returns every GPU byte and tensor it held", async (gpu) => {
  await gpu.dispatcher.sync();
  const before = memoryStats(gpu);
  const arena = new ParamArena(BIG, { backend: gpu, maxSegmentBytes: 4 * 78000 });
  const opt = new AdamW(arena, { maxGradNorm: 1 });
  opt.step();
  assert(memoryStats(gpu).liveBytes > before.liveBytes);
  opt.dispose();
  arena.dispose();
  const after = memoryStats(gpu);
  assertEquals([after.liveBytes, after.liveTensors], [before.liveBytes, before.liveTensors]);
  assertThrows(() => arena.zeroGrad(), /disposed parameter arena/);
});

gpuTest(
  "`ParamArena.gradNorm()` of 2.4M elements matches float64 when threads loop",
  async (gpu) => {
    // 600,000 vec4 elements: 256 workgroups of 256 threads, each thread adds about 9 of them.
    const spec = [{ name: "big", shape: [1200, 2000] }];
    const arena = new ParamArena(spec, { backend: gpu });
    const grads = fillGrads(arena, spec);
    const n = arena.gradNorm();
    assertClose([await n.item()], [norm(grads.values(), f32)], { atol: 0, rtol: 1e-5 }, "norm");
    n.dispose();
    arena.dispose();
  },
);

gpuTest("`ParamArena.fromTensors()` rejects tensors on mixed backends", (gpu) => {
  const a = tensor([1, 2], undefined, { backend: CPU });
  const g = tensor([3, 4], undefined, { backend: gpu });
  assertThrows(
    () => ParamArena.fromTensors(new Map([["a", a], ["g", g]])),
    /Parameter "g" is on webgpu, the arena on cpu/,
  );
  a.dispose();
  g.dispose();
});
