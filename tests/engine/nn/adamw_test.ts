import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { assertClose, type Tol } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { AdamW } from "../../../engine/nn/adamw.ts";
import { ParamArena } from "../../../engine/nn/arena.ts";
import type { ArenaSpec } from "../../../engine/nn/arena_layout.ts";
import { writeHost } from "../../../engine/nn/host_io.ts";
import { f32, seeded } from "./_fixtures.ts";

// Three parameters of odd sizes: a decayed matrix, an undecayed vector and a scalar.
const SPECS: ArenaSpec[] = [
  { name: "w", shape: [3, 5] },
  { name: "b", shape: [7] },
  { name: "s", shape: [] },
];
const LRS = [0.1, 0.05, 0.02]; // lr changes every step
const STEPS = LRS.length;

interface Hyper {
  wd: number;
  maxNorm: number | null;
}

interface Result {
  p: Map<string, Float64Array>;
  m: Map<string, Float64Array>;
  v: Map<string, Float64Array>;
}

const initial = (k: number, shape: readonly number[]): Float64Array => seeded(shape, 10 + k);
const gradient = (step: number, k: number, shape: readonly number[]): Float64Array =>
  seeded(shape, 100 * (step + 1) + k, -2, 2);

// The reference, written independently of the optimizer: PyTorch's AdamW formulas with
// explicit bias-corrected m̂ and v̂, per parameter and element, in float64.
function reference(h: Hyper, round: (v: Float64Array) => Float64Array): Result {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const p = new Map(SPECS.map((s, k) => [s.name, round(initial(k, s.shape))]));
  const m = new Map(SPECS.map((s) => [s.name, new Float64Array(p.get(s.name)!.length)]));
  const v = new Map(SPECS.map((s) => [s.name, new Float64Array(p.get(s.name)!.length)]));
  for (let t = 1; t <= STEPS; t++) {
    const lr = LRS[t - 1];
    const grads = new Map(SPECS.map((s, k) => [s.name, round(gradient(t - 1, k, s.shape))]));
    let sq = 0;
    for (const g of grads.values()) for (const x of g) sq += x * x;
    const clip = h.maxNorm === null ? 1 : Math.min(1, h.maxNorm / (Math.sqrt(sq) + 1e-6));
    for (const s of SPECS) {
      const [pp, mm, vv, gg] = [p.get(s.name)!, m.get(s.name)!, v.get(s.name)!, grads.get(s.name)!];
      for (let i = 0; i < pp.length; i++) {
        const g = gg[i] * clip;
        mm[i] = b1 * mm[i] + (1 - b1) * g;
        vv[i] = b2 * vv[i] + (1 - b2) * g * g;
        const mHat = mm[i] / (1 - b1 ** t);
        const vHat = vv[i] / (1 - b2 ** t);
        if (s.shape.length >= 2) pp[i] -= lr * h.wd * pp[i];
        pp[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
      }
    }
  }
  return { p, m, v };
}

async function run(backend: Backend, h: Hyper, maxSegmentBytes?: number): Promise<Result> {
  const arena = new ParamArena(SPECS, { backend, maxSegmentBytes });
  SPECS.forEach((s, k) => writeHost(arena.param(s.name), initial(k, s.shape)));
  const opt = new AdamW(arena, { weightDecay: h.wd, maxGradNorm: h.maxNorm ?? undefined });
  for (let t = 0; t < STEPS; t++) {
    SPECS.forEach((s, k) => writeHost(arena.grad(s.name), gradient(t, k, s.shape)));
    opt.lr = LRS[t];
    opt.step();
  }
  const out: Result = { p: new Map(), m: new Map(), v: new Map() };
  for (const s of SPECS) {
    const { m, v } = opt.moments(s.name);
    out.p.set(s.name, Float64Array.from(await arena.param(s.name).toArray()));
    out.m.set(s.name, Float64Array.from(await m.toArray()));
    out.v.set(s.name, Float64Array.from(await v.toArray()));
    m.dispose();
    v.dispose();
  }
  assertEquals(opt.stepCount, STEPS);
  opt.dispose();
  arena.dispose();
  return out;
}

function compare(got: Result, want: Result, tol: Tol): void {
  for (const s of SPECS) {
    assertClose(got.p.get(s.name)!, want.p.get(s.name)!, tol, `param ${s.name}`);
    assertClose(got.m.get(s.name)!, want.m.get(s.name)!, tol, `m ${s.name}`);
    assertClose(got.v.get(s.name)!, want.v.get(s.name)!, tol, `v ${s.name}`);
  }
}

const CASES: [string, Hyper][] = [
  ["without weight decay", { wd: 0, maxNorm: null }],
  ["with weight decay", { wd: 0.1, maxNorm: null }],
  ["with clipping active", { wd: 0.1, maxNorm: 0.5 }],
  ["with clipping inactive", { wd: 0.1, maxNorm: 100 }],
];
const EXACT: Tol = { atol: 1e-13, rtol: 1e-11 };
const GPU_TOL: Tol = { atol: 2e-6, rtol: 2e-5 };

for (const [label, h] of CASES) {
  Deno.test(`\`AdamW.step()\` matches the float64 reference over 3 steps ${label}`, async () => {
    compare(await run(CPU, h), reference(h, (v) => v), EXACT);
  });
  gpuTest(`\`AdamW.step()\` on WebGPU matches the float64 reference ${label}`, async (gpu) => {
    compare(await run(gpu, h), reference(h, f32), GPU_TOL);
  });
}

gpuTest(
  "`AdamW.step()` on WebGPU matches the reference across several arena segments",
  async (gpu) => {
    // 256-byte segments hold one parameter each, so the step runs three dispatches.
    const h = { wd: 0.1, maxNorm: 0.5 };
    compare(await run(gpu, h, 256), reference(h, f32), GPU_TOL);
  },
);

Deno.test("`AdamW` clipping preconditions hold: the norm exceeds 0.5 and stays under 100", () => {
  // Guards the clipping cases above against becoming vacuous if the fixtures change.
  for (let t = 0; t < STEPS; t++) {
    let sq = 0;
    SPECS.forEach((s, k) => gradient(t, k, s.shape).forEach((x) => (sq += x * x)));
    assert(Math.sqrt(sq) > 0.5 && Math.sqrt(sq) < 100, `step ${t} norm ${Math.sqrt(sq)}`);
  }
  const clipped = reference({ wd: 0.1, maxNorm: 0.5 }, (v) => v).p.get("w")!;
  const free = reference({ wd: 0.1, maxNorm: null }, (v) => v).p.get("w")!;
  assert(Math.abs(clipped[0] - free[0]) > 1e-4);
});

for (const backend of ["cpu", "webgpu"] as const) {
  const register = backend === "cpu"
    ? (name: string, fn: (b: Backend) => Promise<void>) => Deno.test(name, () => fn(CPU))
    : gpuTest;
  register(
    `\`AdamW.step()\` first step moves each weight by lr against its gradient sign (${backend})`,
    async (b) => {
      const arena = new ParamArena([{ name: "x", shape: [2] }], { backend: b });
      writeHost(arena.param("x"), [1, -1]);
      writeHost(arena.grad("x"), [0.5, -3]);
      const opt = new AdamW(arena, { lr: 0.1 });
      opt.step();
      // Step 1: m̂ = g and v̂ = g², so the update is lr·g/(|g| + ε) ≈ lr·sign(g).
      assertClose(await arena.param("x").toArray(), [0.9, -0.9], { atol: 1e-6, rtol: 0 }, "x");
      opt.dispose();
      arena.dispose();
    },
  );
  register(
    `\`AdamW.step()\` decays only rank-2 parameters when gradients are zero (${backend})`,
    async (b) => {
      const arena = new ParamArena([{ name: "w", shape: [1, 3] }, { name: "g", shape: [3] }], {
        backend: b,
      });
      writeHost(arena.param("w"), [2, -4, 8]);
      writeHost(arena.param("g"), [2, -4, 8]);
      const opt = new AdamW(arena, { lr: 0.1, weightDecay: 0.5 });
      opt.step();
      assertClose(await arena.param("w").toArray(), [1.9, -3.8, 7.6], { atol: 1e-6, rtol: 0 }, "w");
      assertClose(await arena.param("g").toArray(), [2, -4, 8], { atol: 0, rtol: 0 }, "g");
      opt.dispose();
      arena.dispose();
    },
  );
}
