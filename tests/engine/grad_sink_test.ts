// Gradient sinks: backward rules that add an input's gradient straight into its leaf `.grad` or
// into the gradient still being collected for it, instead of returning a tensor to be summed.
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { assertClose, checkOp } from "../_check.ts";
import { bothBackendsTest, gpu, gpuTest } from "../_gpu.ts";
import type { Backend } from "../../engine/backend.ts";
import { rng, tensor } from "../../engine/ops/creation.ts";
import { add, mul } from "../../engine/ops/elementwise.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { linear, linearGelu } from "../../engine/ops/linear.ts";
import { addLayerNorm, layerNorm } from "../../engine/ops/layernorm.ts";
import { sum } from "../../engine/ops/reduce.ts";
import { embedding, embeddingWithPositions, gather } from "../../engine/ops/gather.ts";
import { tidy } from "../../engine/scope.ts";
import type { Shape } from "../../engine/shape.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { ParamArena } from "../../engine/nn/arena.ts";
import { noGrad } from "../../engine/autograd.ts";
import { copyInto } from "../../engine/ops/copy.ts";

function leaf(shape: Shape, seed: number, backend: Backend): Tensor {
  const next = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float64Array.from({ length: n }, () => next() * 2 - 1), shape, {
    backend,
    requiresGrad: true,
  });
}

// One loss per op that offers sinks: matmul in each layout (2-D and a weight shared over a
// batch), linear, the GELU linear, layer norm and the fused residual add + layer norm.
const CASES: { name: string; shapes: Shape[]; loss: (xs: Tensor[]) => Tensor }[] = [
  { name: "matmul NN", shapes: [[5, 7], [7, 6]], loss: ([a, b]) => matmul(a, b) },
  {
    name: "matmul TN (transposed left operand)",
    shapes: [[7, 5], [7, 6]],
    loss: ([a, b]) => matmul(a, b, { transA: true }),
  },
  {
    name: "matmul NT",
    shapes: [[5, 8], [6, 8]],
    loss: ([a, b]) => matmul(a, b, { transB: true }),
  },
  {
    name: "matmul with a weight shared over a batch",
    shapes: [[2, 3, 8], [8, 4]],
    loss: ([a, b]) => matmul(a, b),
  },
  {
    name: "batched matmul with a shared left matrix",
    shapes: [[4, 6], [3, 6, 5]],
    loss: ([a, b]) => matmul(a, b),
  },
  { name: "linear", shapes: [[2, 5, 12], [12, 8], [8]], loss: ([x, w, b]) => linear(x, w, b) },
  {
    name: "linearGelu",
    shapes: [[3, 7], [7, 9], [9]],
    loss: ([x, w, b]) => linearGelu(x, w, b),
  },
  { name: "layerNorm", shapes: [[6, 8], [8], [8]], loss: ([x, w, b]) => layerNorm(x, w, b) },
  {
    // 16 vec4 columns: on a CPU adapter the parameter sums take the one-pass kernel.
    name: "layerNorm of rows of 64",
    shapes: [[5, 64], [64], [64]],
    loss: ([x, w, b]) => layerNorm(x, w, b),
  },
  {
    name: "addLayerNorm (both outputs)",
    shapes: [[5, 12], [5, 12], [12], [12]],
    loss: ([x, r, w, b]) => {
      const o = addLayerNorm(x, r, w, b);
      return add(mul(o.sum, 0.5), o.normed);
    },
  },
  {
    name: "embedding and embeddingWithPositions (repeated ids)",
    shapes: [[9, 8], [12, 8]],
    loss: ([wte, wpe]) => {
      const ids = tensor([3, 0, 3, 8, 8, 1], [2, 3], { backend: wte.backend, dtype: "int32" });
      return add(embedding(wte, ids), embeddingWithPositions(wte, wpe, ids));
    },
  },
  {
    name: "gather (repeated rows)",
    shapes: [[5, 6]],
    loss: ([x]) => gather(x, tensor([4, 4, 0, 2], [4], { backend: x.backend, dtype: "int32" }), 0),
  },
];

for (const c of CASES) {
  bothBackendsTest(`a second backward of ${c.name} adds into .grad in place`, async (backend) => {
    const xs = c.shapes.map((s, i) => leaf(s, 10 + i, backend));
    const weights = (y: Tensor) => leaf(y.shape, 99, backend);
    const pass = () =>
      tidy(() => {
        const y = c.loss(xs);
        sum(mul(y, weights(y))).backward();
      });
    pass();
    const first = await Promise.all(xs.map((x) => x.grad!.toArray()));
    const views = xs.map((x) => x.grad);
    const d0 = backend.kind === "webgpu" ? backend.dispatcher.stats().dispatches : 0;
    pass();
    const second = await Promise.all(xs.map((x) => x.grad!.toArray()));
    xs.forEach((x, i) => assert(x.grad === views[i], `input ${i}: .grad was replaced`));
    // The same deterministic gradient added to itself: exactly twice the first.
    first.forEach((g, i) =>
      assertClose(second[i], Array.from(g, (v) => 2 * v), { atol: 0, rtol: 1e-7 }, `input ${i}`)
    );
    if (backend.kind === "webgpu") {
      // No separate accumulation launches: the second pass costs what the first did.
      const d1 = backend.dispatcher.stats().dispatches;
      pass();
      const d2 = backend.dispatcher.stats().dispatches;
      assertEquals(d2 - d1, d1 - d0, "dispatches of the third pass vs the second");
    }
    for (const x of xs) {
      x.grad!.dispose();
      x.dispose();
    }
  });
}

// Fan-out: an input whose gradient arrives along two paths; the second path's rule adds into
// the sum collected from the first (the residual stream of a transformer block).
checkOp({
  name: "linear of an input that also flows past it (residual)",
  inputs: [[3, 8], [8, 8], [8]],
  fn: ([x, w, b]) => add(x, linear(x, w, b)),
});
checkOp({
  name: "two linears sharing input and weights",
  inputs: [[4, 6], [6, 5], [5]],
  fn: ([x, w, b]) => add(linear(x, w, b), mul(linear(x, w, b), 0.5)),
});
checkOp({
  name: "layerNorm of the residual stream added back to it",
  inputs: [[5, 8], [8], [8]],
  fn: ([x, w, b]) => add(x, layerNorm(x, w, b)),
});
checkOp({
  name: "addLayerNorm feeding a linear and the next residual add",
  inputs: [[3, 8], [3, 8], [8], [8], [8, 8], [8]],
  fn: ([x, r, g, be, w, b]) => {
    const o = addLayerNorm(x, r, g, be);
    return add(o.sum, linear(o.normed, w, b));
  },
});

gpuTest(
  "arena parameters receive their gradients with no launches beyond fresh leaves",
  async (backend) => {
    const shapes: [string, Shape][] = [["w", [16, 8]], ["b", [8]], ["g", [16]], ["c", [16]]];
    const arena = new ParamArena(shapes.map(([name, shape]) => ({ name, shape })), { backend });
    const x = leaf([4, 16], 3, backend);
    const coef = leaf([4, 8], 4, backend);
    x.requiresGrad = false;
    coef.requiresGrad = false;
    const launches = (p: (n: string) => Tensor): number => {
      const d0 = backend.dispatcher.stats().dispatches;
      tidy(() => sum(mul(linear(layerNorm(x, p("g"), p("c")), p("w"), p("b")), coef)).backward());
      return backend.dispatcher.stats().dispatches - d0;
    };
    // Fresh leaves: their first gradients are simply kept, nothing is accumulated.
    const fresh = new Map(shapes.map(([n, s], i) => [n, leaf(s, 20 + i, backend)]));
    const base = launches((n) => fresh.get(n)!);
    arena.zeroGrad();
    for (const [n, t] of fresh) writeFrom(arena.param(n), t);
    const inArena = launches((n) => arena.param(n));
    assertEquals(inArena, base);
    for (const [n, t] of fresh) {
      assertClose(
        await arena.grad(n).toArray(),
        await t.grad!.toArray(),
        { atol: 0, rtol: 1e-7 },
        n,
      );
      t.grad!.dispose();
      t.dispose();
    }
    arena.dispose();
    x.dispose();
    coef.dispose();
  },
);

// Copies a leaf's values into an arena parameter without recording.
function writeFrom(dst: Tensor, src: Tensor): void {
  noGrad(() => copyInto(dst, src));
}

gpuTest("`linearGelu()` without gradients keeps no pre-activation", () => {
  const x = leaf([5, 12], 1, gpu!);
  const w = leaf([12, 8], 2, gpu!);
  const b = leaf([8], 3, gpu!);
  for (const t of [x, w, b]) t.requiresGrad = false;
  const live = gpu!.dispatcher.pool.stats().liveBuffers;
  const y = linearGelu(x, w, b);
  assertEquals(gpu!.dispatcher.pool.stats().liveBuffers, live + 1);
  assertEquals(y.node, null);
  for (const t of [x, w, b, y]) t.dispose();
});
