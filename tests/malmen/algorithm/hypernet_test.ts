import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { rng, tensor } from "../../../engine/ops/creation.ts";
import { mul } from "../../../engine/ops/elementwise.ts";
import { sum } from "../../../engine/ops/reduce.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { tidy } from "../../../engine/scope.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { HyperNetwork } from "../../../malmen/algorithm/hypernet.ts";
import { SUM } from "../../../malmen/algorithm/sum_aggregation.ts";

const D_IN = 5;
const D_OUT = 3;
const D = D_IN + D_OUT;
const ROWS = 7;

function values(n: number, seed: number, scale = 1, shift = 0): number[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => shift + scale * (2 * next() - 1));
}

// Keys and value-gradients on their natural, different scales.
function data(backend: Backend, rows = ROWS, seed = 3): [Tensor, Tensor] {
  return [
    tensor(values(rows * D_IN, seed, 2, 0.5), [rows, D_IN], { backend }),
    tensor(values(rows * D_OUT, seed + 1, 0.01), [rows, D_OUT], { backend }),
  ];
}

const NORM_STATE = {
  count: 12,
  mean: values(D, 21, 0.3),
  m2: values(D, 22, 1, 3),
  std: values(D, 23, 0.2, 0.8),
};

// A small network; `random` replaces the identity init by generic values on every parameter.
function makeNet(backend: Backend, random: boolean): HyperNetwork {
  const net = new HyperNetwork({
    dIn: D_IN,
    dOut: D_OUT,
    nModules: 3,
    rank: 4,
    etaInit: 0.3,
    seed: 1,
    backend,
  });
  net.normalizer.loadState(NORM_STATE);
  if (random) {
    const state = new Map([...net.parameters()].map(([name, t], i) => {
      const scale = name.endsWith(".A") ? 0.5 : 0.4;
      const shift = name.endsWith("scale") ? 1 : name === "eta" ? 0.5 : 0;
      return [name, { shape: t.shape, data: values(t.size, 100 + i, scale, shift) }];
    }));
    net.loadStateDict(state);
  }
  return net;
}

function weights(shape: readonly number[], backend: Backend): Tensor {
  return tensor(values(shape.reduce((a, b) => a * b, 1), 77, 1, 0.5), shape, { backend });
}

// Forward + weighted-sum backward; returns outputs and every parameter gradient.
async function runNet(
  net: HyperNetwork,
  backend: Backend,
  k: number,
): Promise<{ out: ArrayLike<number>; grads: Map<string, ArrayLike<number>> }> {
  const [u, v] = data(backend);
  const out = tidy(() => {
    const d = net.valueDiffs(u, v, k);
    sum(mul(d, weights(d.shape, backend))).backward();
    return d;
  });
  const grads = new Map<string, ArrayLike<number>>();
  for (const [name, p] of net.parameters()) {
    grads.set(name, p.grad ? await p.grad.toArray() : new Float64Array(p.size));
    p.grad?.dispose();
    p.grad = null;
  }
  return { out: await out.toArray(), grads };
}

Deno.test("`HyperNetwork` has the documented parameters with rank clipped to D", () => {
  const net = new HyperNetwork({ dIn: D_IN, dOut: D_OUT, nModules: 2, backend: CPU });
  const shapes = Object.fromEntries([...net.parameters()].map(([n, t]) => [n, [...t.shape]]));
  assertEquals(shapes, {
    "blocks.0.A": [D, D],
    "blocks.0.B": [D, D],
    "blocks.0.bias": [D],
    "blocks.0.scale": [2, D],
    "blocks.0.shift": [2, D],
    "blocks.1.A": [D, D],
    "blocks.1.B": [D, D],
    "blocks.1.bias": [D],
    "blocks.1.scale": [2, D],
    "blocks.1.shift": [2, D],
    eta: [2],
    lamHat: [2],
  });
  assertEquals(net.rank, D);
  net.dispose();
});

Deno.test("`HyperNetwork` draws each block's A from its own N(0, 1) stream", async () => {
  const net = new HyperNetwork({ dIn: 40, dOut: 24, nModules: 1, rank: 32, backend: CPU });
  const a0 = Array.from(await net.getParameter("blocks.0.A").toArray());
  const a1 = Array.from(await net.getParameter("blocks.1.A").toArray());
  const mean = a0.reduce((s, x) => s + x, 0) / a0.length;
  const std = Math.sqrt(a0.reduce((s, x) => s + (x - mean) ** 2, 0) / a0.length);
  if (Math.abs(mean) > 0.05 || Math.abs(std - 1) > 0.05) {
    throw new Error(`A: mean ${mean}, std ${std}`);
  }
  if (a0[0] === a1[0] && a0[1] === a1[1]) throw new Error("both blocks drew the same A");
  net.dispose();
});

Deno.test("`HyperNetwork.forward()` is the identity on the normalised input at init", async () => {
  const net = makeNet(CPU, false);
  const [u, v] = data(CPU);
  const z = await net.normalizer.normalize(u, v).toArray();
  for (const k of [0, 2]) {
    const { h, uTilde, deltaTilde } = net.forward(u, v, k);
    assertEquals(await h.toArray(), z);
    assertEquals(uTilde.shape, [ROWS, D_IN]);
    assertEquals(deltaTilde.shape, [ROWS, D_OUT]);
    assertEquals(await deltaTilde.toArray(), z.filter((_, i) => i % D >= D_IN));
  }
  net.dispose();
});

Deno.test("`HyperNetwork.valueDiffs()` at init is −η (u·ẑ_u) ẑ_δ", async () => {
  const net = makeNet(CPU, false);
  const [u, v] = data(CPU);
  const z = await net.normalizer.normalize(u, v).toArray();
  const uv = await u.toArray();
  const want: number[] = [];
  for (let j = 0; j < ROWS; j++) {
    let a = 0;
    for (let c = 0; c < D_IN; c++) a += uv[j * D_IN + c] * z[j * D + c];
    for (let c = 0; c < D_OUT; c++) want.push(-0.3 * a * z[j * D + D_IN + c]);
  }
  assertClose(await net.predictValueDiffs(u, v, 1).toArray(), want, { atol: 1e-14, rtol: 1e-12 });
  net.dispose();
});

Deno.test("`HyperNetwork.valueDiffs()` gradients match finite differences in float64", async () => {
  const net = makeNet(CPU, true);
  const k = 1;
  const { grads } = await runNet(net, CPU, k);
  const [u, v] = data(CPU);
  const loss = (): number =>
    noGrad(() =>
      tidy(() => {
        const d = net.valueDiffs(u, v, k);
        return (sum(mul(d, weights(d.shape, CPU))).storage.array as Float64Array)[0];
      })
    );
  const eps = 1e-6;
  let checked = 0;
  for (const [name, p] of net.parameters()) {
    const a = p.storage.array as Float64Array;
    const fd = new Float64Array(p.size);
    for (let i = 0; i < p.size; i++) {
      const keepV = a[p.offset + i];
      a[p.offset + i] = keepV + eps;
      const up = loss();
      a[p.offset + i] = keepV - eps;
      const down = loss();
      a[p.offset + i] = keepV;
      fd[i] = (up - down) / (2 * eps);
      if (fd[i] !== 0) checked++;
    }
    assertClose(grads.get(name)!, fd, { atol: 1e-6, rtol: 1e-5 }, `${name} gradient`);
  }
  if (checked < 150) throw new Error(`only ${checked} nonzero gradient entries were checked`);
  net.dispose();
});

gpuTest(
  "`HyperNetwork` on WebGPU matches the float64 reference (forward and gradients)",
  async (gpu) => {
    for (const k of [0, 2]) {
      const ref = makeNet(CPU, true);
      const got = makeNet(gpu, true);
      const a = await runNet(ref, CPU, k);
      const b = await runNet(got, gpu, k);
      assertClose(b.out, a.out, { atol: 1e-5, rtol: 1e-4 }, "value differences");
      for (const [name, g] of a.grads) {
        assertClose(b.grads.get(name)!, g, { atol: 1e-4, rtol: 1e-3 }, `${name} gradient`);
      }
      ref.dispose();
      got.dispose();
    }
  },
);

gpuTest("`HyperNetwork.forward()` on WebGPU is the identity at init", async (gpu) => {
  const net = makeNet(gpu, false);
  const [u, v] = data(gpu);
  const z = await net.normalizer.normalize(u, v).toArray();
  assertEquals(await net.forward(u, v, 1).h.toArray(), z);
  net.dispose();
});

Deno.test("`HyperNetwork.mendShift()` is −η ŨᵀΔ̃ and the sum aggregation streams it", async () => {
  const net = makeNet(CPU, true);
  const [u, v] = data(CPU, 10);
  const { uTilde, deltaTilde } = net.forward(u, v, 2);
  const [ut, dt] = [await uTilde.toArray(), await deltaTilde.toArray()];
  const eta = (await net.eta.toArray())[2];
  const want = new Float64Array(D_IN * D_OUT);
  for (let j = 0; j < 10; j++) {
    for (let a = 0; a < D_IN; a++) {
      for (let b = 0; b < D_OUT; b++) {
        want[a * D_OUT + b] -= eta * ut[j * D_IN + a] * dt[j * D_OUT + b];
      }
    }
  }
  const whole = net.mendShift(u, v, 2);
  assertClose(await whole.toArray(), want, { atol: 1e-14, rtol: 1e-12 }, "shift");
  // Streamed over uneven chunks: same ΔW, and the same gradients as autograd on the whole.
  const acc = SUM.create(net, 2);
  const g = weights([D_IN, D_OUT], CPU);
  const chunks = [[0, 3], [3, 4], [4, 10]];
  const rows = (t: Tensor, s: number, e: number, d: number) =>
    tensor(Array.from(t.storage.array!).slice(s * d, e * d), [e - s, d], { backend: CPU });
  for (const [s, e] of chunks) acc.add(rows(u, s, e, D_IN), rows(v, s, e, D_OUT));
  assertClose(await (await acc.finish()).toArray(), want, { atol: 1e-14, rtol: 1e-12 }, "summed");
  tidy(() => net.mendShift(u, v, 2).backward(g));
  const ref = new Map<string, Float64Array>();
  for (const [name, p] of net.parameters()) {
    ref.set(name, p.grad ? Float64Array.from(await p.grad.toArray()) : new Float64Array(p.size));
    p.grad?.dispose();
    p.grad = null;
  }
  await acc.backward(
    g,
    chunks.map(([s, e]) => ({
      start: s,
      keys: rows(u, s, e, D_IN),
      valueGrads: rows(v, s, e, D_OUT),
    })),
  );
  for (const [name, p] of net.parameters()) {
    const got = p.grad ? await p.grad.toArray() : new Float64Array(p.size);
    assertClose(got, ref.get(name)!, { atol: 1e-13, rtol: 1e-10 }, name);
  }
  acc.dispose();
  net.dispose();
});

Deno.test("`HyperNetwork.addLamHatGrad()` accumulates into one module's λ̂ entry", async () => {
  const net = makeNet(CPU, false);
  net.addLamHatGrad(1, tensor([0.5], [1], { backend: CPU }));
  net.addLamHatGrad(1, tensor([0.25], [1], { backend: CPU }));
  net.addLamHatGrad(2, tensor([-1], [1], { backend: CPU }));
  assertEquals(Array.from(await net.lamHat.grad!.toArray()), [0, 0.75, -1]);
  const view = net.lamHatAt(2);
  assertEquals(Array.from(await view.toArray()), [0]);
  net.dispose();
});

Deno.test("`HyperNetwork` rejects bad module indices and configurations", () => {
  const net = makeNet(CPU, false);
  const [u, v] = data(CPU);
  assertThrows(() => net.forward(u, v, 3), /Module index 3 is out of range for 3 modules/);
  assertThrows(() => net.lamHatAt(-1), RangeError);
  assertThrows(
    () => new HyperNetwork({ dIn: 0, dOut: 3, nModules: 1 }),
    /dIn must be a positive integer/,
  );
  assertThrows(() => net.forward(v, u, 0), /keys "\[7,3\]" and value-gradients "\[7,5\]"/);
  net.dispose();
});

gpuTest("`HyperNetwork` on WebGPU matches float64 at larger odd sizes", async (gpu) => {
  const [dIn, dOut, rows] = [37, 11, 29];
  const build = (backend: Backend): HyperNetwork => {
    const net = new HyperNetwork({
      dIn,
      dOut,
      nModules: 2,
      rank: 19,
      etaInit: 0.05,
      seed: 4,
      backend,
    });
    net.normalizer.loadState({
      count: 40,
      mean: values(dIn + dOut, 31, 0.3),
      m2: values(dIn + dOut, 32, 1, 40),
      std: values(dIn + dOut, 33, 0.3, 1),
    });
    net.loadStateDict(
      new Map([...net.parameters()].map(([name, t], i) => {
        const shift = name.endsWith("scale") ? 1 : 0;
        return [name, { shape: t.shape, data: values(t.size, 300 + i, 0.2, shift) }];
      })),
    );
    return net;
  };
  const run = async (backend: Backend) => {
    const net = build(backend);
    const u = tensor(values(rows * dIn, 41, 2, 0.5), [rows, dIn], { backend });
    const v = tensor(values(rows * dOut, 42, 0.05), [rows, dOut], { backend });
    const out = tidy(() => {
      const d = net.valueDiffs(u, v, 1);
      sum(mul(d, weights(d.shape, backend))).backward();
      return d;
    });
    const grads = new Map<string, ArrayLike<number>>();
    for (const [name, p] of net.parameters()) {
      if (p.grad) grads.set(name, await p.grad.toArray());
    }
    const result = { out: await out.toArray(), grads };
    net.dispose();
    return result;
  };
  const ref = await run(CPU);
  const got = await run(gpu);
  assertClose(got.out, ref.out, { atol: 1e-5, rtol: 1e-3 }, "value differences");
  for (const [name, g] of ref.grads) {
    assertClose(got.grads.get(name)!, g, { atol: 1e-4, rtol: 2e-3 }, `${name} gradient`);
  }
});
