// One full GPT training step (forward + backward + optimizer update): this engine's GPT + AdamW
// vs the same architecture in tfjs-core ops with tf.train.adam on tfjs-webgpu, same adapter.
import process from "node:process";
import { type Backend, sync } from "../engine/backend.ts";
import { tidy } from "../engine/scope.ts";
import type { Tensor } from "../engine/tensor.ts";
import { rng } from "../engine/ops/creation.ts";
import { AdamW } from "../engine/nn/adamw.ts";
import { type GPTConfig, gptConfig } from "../engine/models/gpt/config.ts";
import { disposeBatch, lmBatch } from "../engine/models/gpt/batch.ts";
import { GPT, lmLoss } from "../engine/models/gpt/model.ts";
import type { Bench, BenchContext } from "./types.ts";
import { cardOf, median } from "./timing.ts";

const BATCH = 16;
const LENGTH = 64;
const CONFIG_NAME = `V256-T${LENGTH}-d128-L4-H4-B${BATCH}`;
// Pipeline compilation on llvmpipe takes seconds on the first step.
const WARMUP = 2;

interface StepStats {
  ms: number;
  /** Kernel launches per timed step (null on the CPU backend, which launches none). */
  dispatches: number | null;
  /** CPU time of this process (all threads) per timed step: the work, whatever the load. */
  cpuMs: number;
  params: number;
  firstLoss: number;
  lastLoss: number;
}

/** `count` seeded sequences of `LENGTH + 1` token ids (inputs and shifted labels). */
function sequences(count: number, vocab: number): number[][] {
  const next = rng(7);
  return Array.from(
    { length: count },
    () => Array.from({ length: LENGTH + 1 }, () => Math.floor(next() * vocab)),
  );
}

async function ours(
  gpu: Backend,
  config: GPTConfig,
  seqs: number[][],
  steps: number,
): Promise<StepStats> {
  const model = new GPT(config, { backend: gpu, seed: 1 });
  const opt = new AdamW(model, { lr: 1e-3, maxGradNorm: 1 });
  const batch = lmBatch(seqs, { backend: gpu });
  const record = (): Tensor => {
    opt.zeroGrad();
    const loss = lmLoss(model.forward(batch.ids), batch.labels);
    loss.backward();
    opt.step();
    return loss;
  };
  // An untimed step whose loss is read back (a sanity check of the run).
  const step = async (): Promise<number> => {
    const loss = tidy(record);
    try {
      return await loss.item();
    } finally {
      loss.dispose();
    }
  };
  try {
    const firstLoss = await step();
    for (let i = 1; i < WARMUP; i++) await step();
    await sync(gpu);
    const times: number[] = [];
    const launches = (): number => gpu.kind === "webgpu" ? gpu.dispatcher.stats().dispatches : 0;
    const d0 = launches();
    const c0 = process.cpuUsage();
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      tidy(() => void record());
      await sync(gpu);
      times.push(performance.now() - t0);
    }
    const dispatches = gpu.kind === "webgpu" ? (launches() - d0) / steps : null;
    const c = process.cpuUsage(c0);
    const cpuMs = (c.user + c.system) / 1000 / steps;
    const lastLoss = await step();
    const params = model.numParameters();
    return { ms: median(times), cpuMs, dispatches, params, firstLoss, lastLoss };
  } finally {
    disposeBatch(batch);
    opt.dispose();
    model.dispose();
  }
}

/** The train_step benchmark. */
export const trainStepBench: Bench = {
  name: "train_step",
  description: `GPT training step ms (fwd+bwd+Adam), ${CONFIG_NAME} (ours vs tfjs-webgpu)`,
  async run(ctx: BenchContext): Promise<void> {
    const steps = ctx.quick ? 3 : 7;
    const config = gptConfig("tiny", { vocabSize: 256, nCtx: LENGTH });
    const seqs = sequences(BATCH, config.vocabSize);
    ctx.log(`train_step ${CONFIG_NAME}: ours (${WARMUP} warm-up + ${steps} timed steps)`);
    const a = await ours(ctx.backend, config, seqs, steps);
    ctx.log(
      `train_step ours: ${a.params} params, loss ${a.firstLoss.toFixed(3)} -> ` +
        `${a.lastLoss.toFixed(3)}`,
    );
    const card = cardOf(ctx.backend);
    ctx.emit({
      bench: "train_step",
      config: CONFIG_NAME,
      impl: "ours",
      backend: ctx.backend.kind,
      ms: round(a.ms),
      cpu_ms: Math.round(a.cpuMs),
      dispatches: a.dispatches,
      card,
    });
    if (!ctx.peers || ctx.stop.requested) return;
    const { tfjsGptTrainStep } = await import("./peers/tfjs_gpt.ts");
    ctx.log(`train_step ${CONFIG_NAME}: tfjs-webgpu (${WARMUP} warm-up + ${steps} timed steps)`);
    const p = await tfjsGptTrainStep(config, seqs, { warmup: WARMUP, steps, seed: 1 });
    ctx.log(
      `train_step tfjs-webgpu: ${p.params} params, loss ${p.firstLoss.toFixed(3)} -> ` +
        `${p.lastLoss.toFixed(3)}`,
    );
    if (p.params !== a.params) {
      throw new Error(`Parameter counts differ: ours ${a.params}, tfjs ${p.params}`);
    }
    ctx.emit({
      bench: "train_step",
      config: CONFIG_NAME,
      impl: "tfjs-webgpu",
      backend: "webgpu",
      ms: round(p.ms),
      cpu_ms: Math.round(p.cpuMs),
      card,
    });
    ctx.log(
      `train_step: tfjs-webgpu / ours = ${(p.ms / a.ms).toFixed(2)}x wall, ` +
        `${(p.cpuMs / a.cpuMs).toFixed(2)}x CPU time`,
    );
  },
};

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
