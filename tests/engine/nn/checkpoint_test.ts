import { deepStrictEqual as assertEquals, rejects as assertRejects } from "node:assert/strict";
import { assertClose } from "../../_check.ts";
import { gpuTest } from "../../_gpu.ts";
import { type Backend, CPU } from "../../../engine/backend.ts";
import { AdamW } from "../../../engine/nn/adamw.ts";
import {
  loadModule,
  loadOptimizer,
  saveModule,
  saveOptimizer,
} from "../../../engine/nn/checkpoint.ts";
import { Linear } from "../../../engine/nn/linear.ts";
import { Module } from "../../../engine/nn/module.ts";
import { tensor } from "../../../engine/ops/creation.ts";
import { mean } from "../../../engine/ops/reduce.ts";
import { pow, tanh } from "../../../engine/ops/elementwise.ts";
import { readSafetensors } from "../../../engine/io/safetensors.ts";
import { tidy } from "../../../engine/scope.ts";
import type { Tensor } from "../../../engine/tensor.ts";
import { seeded } from "./_fixtures.ts";

class Net extends Module {
  readonly a: Linear;
  readonly b: Linear;
  constructor(backend: Backend, seed = 0) {
    super();
    this.a = this.addModule("a", new Linear(3, 5, { backend, seed: seed + 1, std: 0.4 }));
    this.b = this.addModule("b", new Linear(5, 2, { backend, seed: seed + 2, std: 0.4 }));
  }
  forward(x: Tensor): Tensor {
    return this.b.forward(tanh(this.a.forward(x)));
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nn-ckpt-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function snapshot(m: Module): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [k, t] of m.parameters()) out.set(k, Array.from(await t.toArray()));
  return out;
}

function steps(m: Net, opt: AdamW, x: Tensor, n: number): void {
  for (let i = 0; i < n; i++) {
    tidy(() => {
      opt.zeroGrad();
      mean(pow(m.forward(x), 2)).backward();
      opt.step();
    });
  }
}

function both(name: string, fn: (b: Backend) => Promise<void>): void {
  Deno.test(`${name} (cpu)`, () => fn(CPU));
  gpuTest(`${name} (webgpu)`, fn);
}

both("`saveModule()` then `loadModule()` restores every parameter", async (b) => {
  await withDir(async (dir) => {
    const src = new Net(b, 0);
    const dst = new Net(b, 10);
    dst.arena(); // loading writes into arena views in place
    await saveModule(src, `${dir}/net.safetensors`, { note: "round trip" });
    const { metadata } = await loadModule(dst, `${dir}/net.safetensors`);
    assertEquals(metadata.note, "round trip");
    const want = await snapshot(src);
    const got = await snapshot(dst);
    // The file holds float32: exact on WebGPU, float32-rounded on the float64 backend.
    for (const [k, v] of want) {
      assertClose(got.get(k)!, v, { atol: 0, rtol: b.kind === "cpu" ? 1e-7 : 0 }, k);
    }
    const file = await readSafetensors(`${dir}/net.safetensors`);
    assertEquals([...file.tensors.keys()].sort(), ["a.bias", "a.weight", "b.bias", "b.weight"]);
    assertEquals(file.tensors.get("a.weight")!.shape, [3, 5]);
    src.dispose();
    dst.dispose();
  });
});

Deno.test("`loadModule()` names the parameter and both shapes when a file does not fit", async () => {
  await withDir(async (dir) => {
    const small = new Linear(3, 4);
    await saveModule(small, `${dir}/small.safetensors`);
    await assertRejects(
      () => loadModule(new Linear(4, 3), `${dir}/small.safetensors`),
      { message: 'Cannot load "weight": the model has shape "[4,3]", the state dict "[3,4]"' },
    );
  });
});

both(
  "`saveOptimizer()` and `loadOptimizer()` resume training exactly where it stopped",
  async (b) => {
    await withDir(async (dir) => {
      const x = tensor(seeded([7, 3], 4, -2, 2), [7, 3], { backend: b });
      const options = { lr: 0.05, weightDecay: 0.1, maxGradNorm: 0.5 };
      const m1 = new Net(b);
      const o1 = new AdamW(m1, options);
      steps(m1, o1, x, 3);
      await saveModule(m1, `${dir}/model.safetensors`);
      await saveOptimizer(o1, `${dir}/optim.safetensors`, { run: "demo" });
      steps(m1, o1, x, 4);

      const m2 = new Net(b, 50);
      const o2 = new AdamW(m2, options);
      await loadModule(m2, `${dir}/model.safetensors`);
      const meta = await loadOptimizer(o2, `${dir}/optim.safetensors`);
      assertEquals([meta.step, meta.run, meta.betas], ["3", "demo", "0.9,0.999"]);
      assertEquals(o2.stepCount, 3);
      steps(m2, o2, x, 4);
      assertEquals(o2.stepCount, 7);
      const want = await snapshot(m1);
      const got = await snapshot(m2);
      // Bit-identical on WebGPU (float32 throughout); the float64 backend saved rounded state.
      const tol = b.kind === "cpu" ? { atol: 1e-6, rtol: 1e-5 } : { atol: 0, rtol: 0 };
      for (const [k, v] of want) assertClose(got.get(k)!, v, tol, k);
      for (const o of [o1, o2]) o.dispose();
      for (const m of [m1, m2]) m.dispose();
      x.dispose();
    });
  },
);

Deno.test("`loadOptimizer()` rejects a model file and mismatched moments", async () => {
  await withDir(async (dir) => {
    const m = new Linear(2, 3);
    const opt = new AdamW(m);
    await saveModule(m, `${dir}/model.safetensors`);
    await assertRejects(
      () => loadOptimizer(opt, `${dir}/model.safetensors`),
      /is not an AdamW state file/,
    );
    const other = new Linear(3, 3);
    await saveOptimizer(new AdamW(other), `${dir}/other.safetensors`);
    await assertRejects(
      () => loadOptimizer(opt, `${dir}/other.safetensors`),
      {
        message: 'Cannot load "exp_avg.weight": the parameter has shape "[2,3]", the state "[3,3]"',
      },
    );
    assertEquals(opt.stepCount, 0);
  });
});
