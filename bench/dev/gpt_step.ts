// Measures (does not assert) the time of one training step (forward + backward + AdamW) and of
// a forward alone, with dispatch counts, for three GPT shapes on WebGPU:
// `deno run -A bench/dev/gpt_step.ts [steps]`. Each step ends with a device sync, so the wall
// time is the GPU time plus the recording overhead of the step.
import { initWebGpu } from "../../engine/backend.ts";
import { noGrad } from "../../engine/autograd.ts";
import { tidy } from "../../engine/scope.ts";
import { AdamW } from "../../engine/nn/adamw.ts";
import { type GPTConfig, gptConfig } from "../../engine/models/gpt/config.ts";
import { disposeBatch, lmBatch } from "../../engine/models/gpt/batch.ts";
import { GPT } from "../../engine/models/gpt/model.ts";
import { rng } from "../../engine/ops/creation.ts";

const gpu = await initWebGpu();

function seededInts(count: number, n: number, seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: count }, () => Math.floor(next() * n));
}
const steps = Number(Deno.args[0] ?? 10);

async function bench(label: string, config: GPTConfig, b: number, t: number): Promise<void> {
  const model = new GPT(config, { backend: gpu, seed: 1 });
  const opt = new AdamW(model, { lr: 1e-3, maxGradNorm: 1 });
  const seqs = Array.from({ length: b }, (_, i) => seededInts(t + 1, config.vocabSize, i));
  const batch = lmBatch(seqs, { backend: gpu });
  const step = (): void =>
    tidy(() => {
      opt.zeroGrad();
      model.loss(batch.ids, batch.labels).backward();
      opt.step();
    });
  const forward = (): void => tidy(() => void noGrad(() => model.loss(batch.ids, batch.labels)));
  const time = async (fn: () => void): Promise<{ ms: number; dispatches: number }> => {
    for (let i = 0; i < 3; i++) fn();
    await gpu.dispatcher.sync();
    const d0 = gpu.dispatcher.stats().dispatches;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      fn();
      await gpu.dispatcher.sync();
    }
    const ms = (performance.now() - t0) / steps;
    return { ms, dispatches: (gpu.dispatcher.stats().dispatches - d0) / steps };
  };
  const f = await time(forward);
  const s = await time(step);
  const loss = await tidy(() => noGrad(() => model.loss(batch.ids, batch.labels))).item();
  console.log(
    `${label.padEnd(34)} step ${s.ms.toFixed(1).padStart(7)} ms (${s.dispatches} dispatches)` +
      `   forward ${f.ms.toFixed(1).padStart(6)} ms (${f.dispatches})   loss ${loss.toFixed(3)}`,
  );
  disposeBatch(batch);
  model.dispose();
}

console.log(`adapter: ${gpu.adapter}, ${steps} timed steps each`);
const tiny = gptConfig("tiny");
await bench("tiny V1024-T32-d128-L4-H4-B16", tiny, 16, 32);
await bench("tiny V1024-T64-d128-L4-H4-B16", tiny, 16, 64);
await bench("V256-T64-d128-L4-H4-B16", gptConfig("tiny", { vocabSize: 256 }), 16, 64);
