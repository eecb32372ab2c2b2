// The memory-bounded schedule (phases B, D, E of `malmen/algorithm/scheduler.ts`) must give exactly the gradients of
// plain autograd through hyper-network → ridge solve → meta-loss.
import { assertClose } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { rng, tensor } from "../../../engine/ops/creation.ts";
import { mul, sub } from "../../../engine/ops/elementwise.ts";
import { sum } from "../../../engine/ops/reduce.ts";
import { slice } from "../../../engine/ops/view.ts";
import { tidy } from "../../../engine/scope.ts";
import { liveTensorCount, type Tensor } from "../../../engine/tensor.ts";
import { equal as assertEquals } from "node:assert/strict";
import { HyperNetwork } from "../../../malmen/algorithm/hypernet.ts";
import { ridgeSolve } from "../../../malmen/algorithm/ridge_solve.ts";
import { RidgeAccumulator, type RidgeSolver } from "../../../malmen/algorithm/ridge_accumulator.ts";

const D_IN = 9;
const D_OUT = 4;
const K = 1;

function values(n: number, seed: number, scale = 1, shift = 0): number[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => shift + scale * (2 * next() - 1));
}

function makeNet(backend: Backend): HyperNetwork {
  const net = new HyperNetwork({
    dIn: D_IN,
    dOut: D_OUT,
    nModules: 2,
    rank: 5,
    etaInit: 0.2,
    seed: 3,
    backend,
  });
  net.normalizer.loadState({
    count: 30,
    mean: values(D_IN + D_OUT, 1, 0.2),
    m2: values(D_IN + D_OUT, 2, 1, 20),
    std: values(D_IN + D_OUT, 3, 0.2, 1),
  });
  const state = new Map([...net.parameters()].map(([name, t], i) => {
    const shift = name.endsWith("scale") ? 1 : name === "eta" ? 0.3 : name === "lamHat" ? -0.5 : 0;
    return [name, {
      shape: t.shape,
      data: values(t.size, 50 + i, name.endsWith(".A") ? 0.5 : 0.3, shift),
    }];
  }));
  net.loadStateDict(state);
  return net;
}

// Toy meta-loss L = Σ w ⊙ (ΔW − T)² / 2 with its gradient G = w ⊙ (ΔW − T).
const TARGET = values(D_IN * D_OUT, 8, 0.05);
const WEIGHT = values(D_IN * D_OUT, 9, 0.5, 1);

async function gradients(net: HyperNetwork): Promise<Map<string, Float64Array>> {
  const out = new Map<string, Float64Array>();
  for (const [name, p] of net.parameters()) {
    out.set(name, p.grad ? Float64Array.from(await p.grad.toArray()) : new Float64Array(p.size));
    p.grad?.dispose();
    p.grad = null;
  }
  return out;
}

async function plainAutograd(backend: Backend, n: number): Promise<Map<string, Float64Array>> {
  const net = makeNet(backend);
  const u = tensor(values(n * D_IN, 20, 1, 0.3), [n, D_IN], { backend });
  const v = tensor(values(n * D_OUT, 21, 0.1), [n, D_OUT], { backend });
  tidy(() => {
    const dv = net.valueDiffs(u, v, K);
    const dW = ridgeSolve(u, dv, slice(net.lamHat, [K], [K + 1]));
    const t = tensor(TARGET, [D_IN, D_OUT], { backend });
    const w = tensor(WEIGHT, [D_IN, D_OUT], { backend });
    const e = sub(dW, t);
    sum(mul(mul(mul(e, e), w), 0.5)).backward();
  });
  const g = await gradients(net);
  u.dispose();
  v.dispose();
  net.dispose();
  return g;
}

async function streamed(
  backend: Backend,
  n: number,
  chunk: number,
  solver: RidgeSolver,
): Promise<Map<string, Float64Array>> {
  const net = makeNet(backend);
  const uAll = values(n * D_IN, 20, 1, 0.3), vAll = values(n * D_OUT, 21, 0.1);
  const chunks: [Tensor, Tensor][] = [];
  for (let s = 0; s < n; s += chunk) {
    const e = Math.min(n, s + chunk);
    chunks.push([
      tensor(uAll.slice(s * D_IN, e * D_IN), [e - s, D_IN], { backend }),
      tensor(vAll.slice(s * D_OUT, e * D_OUT), [e - s, D_OUT], { backend }),
    ]);
  }
  // Phase B: value differences without a graph, streamed into the solve.
  const acc = new RidgeAccumulator(D_IN, D_OUT, { solver });
  for (const [u, v] of chunks) {
    const dv = net.predictValueDiffs(u, v, K);
    acc.add(u, dv);
    dv.dispose();
  }
  const lamHat = net.lamHatAt(K);
  const sol = await acc.solve(lamHat);
  // Phase C stand-in: G from the toy meta-loss.
  const dW = await sol.deltaW.toArray();
  const g = tensor(Array.from(dW, (x, i) => WEIGHT[i] * (x - TARGET[i])), [D_IN, D_OUT], {
    backend,
  });
  // Phases D and E.
  const bw = await sol.backward(g);
  net.addLamHatGrad(K, bw.gradLamHat);
  let start = 0;
  for (const [u, v] of chunks) {
    const gv = bw.gradValues(start, u);
    net.backwardValueDiffs(u, v, K, gv);
    gv.dispose();
    start += u.shape[0];
  }
  const out = await gradients(net);
  for (const t of [lamHat, g, ...chunks.flat()]) t.dispose();
  bw.dispose();
  sol.dispose();
  acc.dispose();
  net.dispose();
  return out;
}

function compare(
  got: Map<string, Float64Array>,
  want: Map<string, Float64Array>,
  tol: { atol: number; rtol: number },
) {
  let nonzero = 0;
  for (const [name, g] of want) {
    assertClose(got.get(name)!, g, tol, `${name} gradient`);
    nonzero += g.filter((x) => x !== 0).length;
  }
  if (want.get("lamHat")![K] === 0 || want.get("eta")![K] === 0 || nonzero < 100) {
    throw new Error("the reference gradients are degenerate");
  }
}

for (const [n, chunk] of [[6, 4], [23, 5]]) {
  const form = n < D_IN ? "dual" : "primal";
  Deno.test(`streamed phases B–E equal plain autograd through the ${form} ridge solve (n = ${n})`, async () => {
    const before = liveTensorCount();
    compare(await streamed(CPU, n, chunk, "host"), await plainAutograd(CPU, n), {
      atol: 1e-12,
      rtol: 1e-9,
    });
    const leaked = liveTensorCount() - before;
    assertEquals(leaked, 0, `${leaked} tensors leaked`);
  });
  for (const solver of ["host", "device"] as const) {
    gpuTest(
      `streamed phases B–E on WebGPU (${solver} solver) match float64 autograd (${form})`,
      async (gpu) => {
        compare(await streamed(gpu, n, chunk, solver), await plainAutograd(CPU, n), {
          atol: 1e-5,
          rtol: 2e-3,
        });
      },
    );
  }
}
