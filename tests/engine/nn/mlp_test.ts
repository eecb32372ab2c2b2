import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { AdamW } from "../../../engine/nn/adamw.ts";
import { Linear } from "../../../engine/nn/linear.ts";
import { Module } from "../../../engine/nn/module.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { pow, relu, sub } from "../../../engine/ops/elementwise.ts";
import { mean } from "../../../engine/ops/reduce.ts";
import { memoryStats } from "../../../engine/memory.ts";
import { tidy } from "../../../engine/scope.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { seeded } from "./_fixtures.ts";

// Linear(5→16)-relu-Linear(16→3) regressing a fixed batch of 11 with the mean squared error.
class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(backend: Backend) {
    super();
    this.fc1 = this.addModule("fc1", new Linear(5, 16, { backend, seed: 1, std: 0.5 }));
    this.fc2 = this.addModule("fc2", new Linear(16, 3, { backend, seed: 2, std: 0.5 }));
  }
  forward(x: Tensor): Tensor {
    return this.fc2.forward(relu(this.fc1.forward(x)));
  }
}

interface Setup {
  model: Mlp;
  opt: AdamW;
  x: Tensor;
  target: Tensor;
  loss: () => Tensor;
  dispose: () => void;
}

function setup(backend: Backend): Setup {
  const model = new Mlp(backend);
  const opt = new AdamW(model, { lr: 0.02, weightDecay: 0.01, maxGradNorm: 1 });
  const x = tensor(seeded([11, 5], 7, -2, 2), [11, 5], { backend });
  const target = tensor(seeded([11, 3], 8), [11, 3], { backend });
  return {
    model,
    opt,
    x,
    target,
    loss: () => mean(pow(sub(model.forward(x), target), 2)),
    dispose: () => {
      opt.dispose();
      model.dispose();
      x.dispose();
      target.dispose();
    },
  };
}

// One training step; returns the loss of the parameters before the step.
function trainStep(s: Setup): Tensor {
  return tidy(() => {
    s.opt.zeroGrad();
    const l = s.loss();
    l.backward();
    s.opt.step();
    return l;
  });
}

const STEPS = 40;

async function train(
  backend: Backend,
): Promise<{ losses: number[]; params: Map<string, number[]> }> {
  const s = setup(backend);
  const losses: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const l = trainStep(s);
    losses.push(await l.item());
    l.dispose();
  }
  const params = new Map<string, number[]>();
  for (const [name, t] of s.model.parameters()) params.set(name, Array.from(await t.toArray()));
  s.dispose();
  return { losses, params };
}

Deno.test("`AdamW` trains a 2-layer MLP on a fixed batch: the loss falls below a third", async () => {
  const { losses } = await train(CPU);
  assert(losses[STEPS - 1] < losses[0] / 3, `loss ${losses[0]} -> ${losses[STEPS - 1]}`);
  // Steady descent: every 10-step window ends lower than it began.
  for (let i = 10; i < STEPS; i += 10) assert(losses[i] < losses[i - 10], `window ending at ${i}`);
});

gpuTest("`AdamW` MLP training on WebGPU matches the float64 run after 40 steps", async (gpu) => {
  const ref = await train(CPU);
  const got = await train(gpu);
  // Stated tolerance: float32 rounding compounded over 40 clipped AdamW steps (measured on
  // lavapipe: 4e-7 on the losses, 1.7e-6 on the parameters).
  assertClose(got.losses, ref.losses, { atol: 1e-5, rtol: 1e-4 }, "losses");
  for (const [name, want] of ref.params) {
    assertClose(got.params.get(name)!, want, { atol: 2e-5, rtol: 1e-4 }, name);
  }
});

gpuTest(
  "1,000 MLP training steps on WebGPU inside `tidy()` leak no GPU bytes or tensors",
  async (gpu) => {
    const s = setup(gpu);
    const first = trainStep(s);
    const initial = await first.item();
    first.dispose();
    await gpu.dispatcher.sync();
    const before = memoryStats(gpu);
    const reads = gpu.dispatcher.stats().readbacks;
    for (let i = 0; i < 1000; i++) {
      tidy(() => {
        s.opt.zeroGrad();
        s.loss().backward();
        s.opt.step();
      });
    }
    await gpu.dispatcher.sync();
    const after = memoryStats(gpu);
    assertEquals(gpu.dispatcher.stats().readbacks, reads, "a training step read back");
    assertEquals(
      { bytes: after.liveBytes, buffers: after.liveBuffers, tensors: after.liveTensors },
      { bytes: before.liveBytes, buffers: before.liveBuffers, tensors: before.liveTensors },
    );
    const last = tidy(() => s.loss());
    const final = await last.item();
    last.dispose();
    assert(Number.isFinite(final) && final < initial / 3, `loss ${initial} -> ${final}`);
    s.dispose();
  },
);
