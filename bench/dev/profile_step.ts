// Per-kernel GPU time of LM training steps (timestamp queries): where a step's time goes.
// Usage: deno run -A bench/dev/profile_step.ts [steps] [dModel] [batch] [vocab] [answers-only 0|1]
// (CounterFact's shape: `10 128 128 20531 1`: a 20k vocabulary, loss on answer tokens only.)
import { initWebGpu } from "../../engine/backend.ts";
import { tidy } from "../../engine/scope.ts";
import { AdamW } from "../../engine/nn/adamw.ts";
import { GPT, lmLoss } from "../../engine/models/gpt/model.ts";
import { gptConfig } from "../../engine/models/gpt/config.ts";
import { disposeBatch, editBatch, lmBatch } from "../../engine/models/gpt/batch.ts";
import { rng } from "../../engine/ops/creation.ts";

const steps = Number(Deno.args[0] ?? 5);
const d = Number(Deno.args[1] ?? 128);
const b = Number(Deno.args[2] ?? 64);
const vocab = Number(Deno.args[3] ?? 809);
const answersOnly = Deno.args[4] === "1";
const gpu = await initWebGpu();
const model = new GPT(
  gptConfig("tiny", { vocabSize: vocab, nCtx: 32, dModel: d, nLayer: 4, nHead: 4 }),
  { backend: gpu },
);
const opt = new AdamW(model, { lr: 1e-3, weightDecay: 0, maxGradNorm: 1 });
const next = rng(1);
const seqs = Array.from(
  { length: b },
  () => Array.from({ length: 14 }, () => Math.floor(next() * vocab)),
);
const step = (): void => {
  const batch = answersOnly
    ? editBatch(seqs.map((q) => ({ prompt: q.slice(0, -1), answer: q.slice(-1) })), {
      backend: gpu,
    })
    : lmBatch(seqs, { backend: gpu });
  tidy(() => {
    opt.zeroGrad();
    const at = answersOnly ? batch.positions : undefined;
    const labels = answersOnly ? batch.targets : batch.labels;
    lmLoss(model.forward(batch.ids, { at }), labels).backward();
    opt.step();
  });
  disposeBatch(batch);
};
step();
await gpu.dispatcher.sync();
let t0 = performance.now();
for (let i = 0; i < steps; i++) step();
await gpu.dispatcher.sync();
console.log(`wall ${((performance.now() - t0) / steps).toFixed(1)} ms/step (unprofiled)`);
gpu.dispatcher.startProfile();
t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const rows = await gpu.dispatcher.stopProfile();
const total = rows.reduce((s, r) => s + r.ms, 0);
console.log(
  `kernel time ${(total / steps).toFixed(1)} ms/step over ${
    rows.reduce((s, r) => s + r.count, 0) / steps
  } launches`,
);
for (const r of rows.slice(0, 25)) {
  console.log(
    `${(r.ms / steps).toFixed(2).padStart(8)} ms  ${
      String(r.count / steps).padStart(5)
    }x  ${r.key}`,
  );
}
