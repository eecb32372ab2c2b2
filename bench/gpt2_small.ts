// GPT-2 small (124M parameters, random weights) on this engine: forward + backward of a T = 128,
// B = 4 batch, one AdamW step, and a MALMEN edit of 64 random facts (seconds, peak RSS and peak
// live GPU memory). The weights and the hyper-network are untrained: this measures speed and
// memory at GPT-2's shapes, not edit quality. Where the adapter's largest storage binding cannot
// hold the 50,257-row token embedding (llvmpipe: 128 MiB), the vocabulary is cut to what fits.
import { type GpuBackend, sync } from "../engine/backend.ts";
import { memoryStats, peakRssBytes, resetPeakMemory } from "../engine/memory.ts";
import { rng } from "../engine/ops/creation.ts";
import { tidy } from "../engine/scope.ts";
import { AdamW } from "../engine/nn/adamw.ts";
import { gptConfig } from "../engine/models/gpt/config.ts";
import { disposeBatch, lmBatch } from "../engine/models/gpt/batch.ts";
import { GPT, lmLoss } from "../engine/models/gpt/model.ts";
import { defaultEditorConfig } from "../malmen/editors/editor.ts";
import { HyperEditor } from "../malmen/editors/hyper.ts";
import type { EditRequest } from "../malmen/eval/requests.ts";
import { UsageError } from "../examples/_cli/mod.ts";
import type { Bench, BenchContext } from "./types.ts";
import { median } from "./timing.ts";

const T = 128;
const B = 4;
// Facts per MALMEN edit: 64 everywhere, and 1,024 too on a hardware GPU.
const FACTS = 64;
const FACTS_ON_HARDWARE = 1024;

/** `count` facts of random tokens: prompts of 8–15 tokens, answers of 1–3. */
function randomRequests(count: number, vocab: number, seed: number): EditRequest[] {
  const next = rng(seed);
  const ids = (n: number): number[] => Array.from({ length: n }, () => Math.floor(next() * vocab));
  const pa = () => ({
    prompt: ids(8 + Math.floor(next() * 8)),
    answer: ids(1 + Math.floor(next() * 3)),
  });
  return Array.from({ length: count }, (_, i) => ({
    record: {
      case_id: i,
      prompt: "",
      subject: "",
      ground_truth: "",
      target_new: "",
      rephrase_prompt: "",
      locality_prompt: "",
      locality_ground_truth: "",
    },
    edit: pa(),
    equiv: pa(),
    unrel: pa(),
    editTrue: pa(),
    equivTrue: pa(),
    unrelNew: pa(),
  }));
}

/** The GPT-2-small benchmark. */
export const gpt2SmallBench: Bench = {
  name: "gpt2_small",
  description:
    `GPT-2 small (124M, random weights): fwd+bwd ms at T=${T} B=${B}, MALMEN edit of ${FACTS} facts`,
  onlyWhenNamed: true,
  async run(ctx: BenchContext): Promise<void> {
    if (ctx.backend.kind !== "webgpu") {
      throw new UsageError("gpt2_small measures GPU time and memory: run it with --backend webgpu");
    }
    const gpu = ctx.backend;
    // Every parameter must fit one storage binding: llvmpipe's 128 MiB holds 43,690 token rows of
    // 768 (119M parameters in all), a hardware GPU's the whole 50,257 (124M).
    const limit = gpu.dispatcher.device.limits.maxStorageBufferBindingSize;
    const base = gptConfig("gpt2");
    const rows = Math.floor(limit / (base.dModel * 4));
    const config = gptConfig("gpt2", { vocabSize: Math.min(base.vocabSize, rows) });
    ctx.log(
      `gpt2_small: ${config.nLayer} blocks of d=${config.dModel}, vocabulary ${config.vocabSize} on ${gpu.adapter}`,
    );
    const model = new GPT(config, { backend: gpu, seed: 1 });
    const next = rng(3);
    const seqs = Array.from(
      { length: B },
      () => Array.from({ length: T + 1 }, () => Math.floor(next() * config.vocabSize)),
    );
    const batch = lmBatch(seqs, { backend: gpu });
    const opt = new AdamW(model, { lr: 1e-4, maxGradNorm: 1 });
    const steps = ctx.quick ? 1 : 3;
    const time = async (fn: () => void): Promise<{ ms: number; dispatches: number }> => {
      fn(); // compiles the pipelines
      await sync(gpu);
      const times: number[] = [];
      const d0 = gpu.dispatcher.stats().dispatches;
      for (let i = 0; i < steps; i++) {
        const t0 = performance.now();
        fn();
        await sync(gpu);
        times.push(performance.now() - t0);
      }
      return { ms: median(times), dispatches: (gpu.dispatcher.stats().dispatches - d0) / steps };
    };
    try {
      const fb = await time(() =>
        tidy(() => {
          opt.zeroGrad();
          lmLoss(model.forward(batch.ids), batch.labels).backward();
        })
      );
      ctx.emit({
        bench: "gpt2_small",
        what: "forward+backward",
        params: model.numParameters(),
        vocab: config.vocabSize,
        ms: Math.round(fb.ms),
        dispatches: fb.dispatches,
        card: gpu.adapter,
      });
      const step = await time(() =>
        tidy(() => {
          opt.zeroGrad();
          lmLoss(model.forward(batch.ids), batch.labels).backward();
          opt.step();
        })
      );
      ctx.emit({
        bench: "gpt2_small",
        what: "train step (fwd+bwd+AdamW)",
        ms: Math.round(step.ms),
        dispatches: step.dispatches,
        card: gpu.adapter,
      });
      opt.dispose();
      model.setTrainable(false);
      const editor = new HyperEditor("malmen", model, defaultEditorConfig(config.nLayer));
      const sizes = gpu.isFallbackAdapter || ctx.quick ? [FACTS] : [FACTS, FACTS_ON_HARDWARE];
      for (const facts of sizes) {
        if (ctx.stop.requested) break;
        await measureEdit(ctx, model, editor, facts);
      }
      editor.dispose();
    } finally {
      disposeBatch(batch);
      model.dispose();
    }
  },
};

// Edits `facts` random facts twice (the first run compiles the pipelines) and reports the second.
async function measureEdit(
  ctx: BenchContext,
  model: GPT,
  editor: HyperEditor,
  facts: number,
): Promise<void> {
  const gpu = model.backend as GpuBackend;
  const requests = randomRequests(facts, model.config.vocabSize, 5);
  ctx.log(`gpt2_small: MALMEN edit of ${facts} facts (layers ${editor.config.layers})`);
  for (let round = 0; round < (ctx.quick ? 1 : 2); round++) {
    await sync(gpu);
    // Buffers parked in the pool (the training step's) would count in the resident set.
    gpu.dispatcher.pool.trim();
    resetPeakMemory(gpu);
    const t0 = performance.now();
    const shifts = await editor.computeShifts(model, requests);
    await sync(gpu);
    const seconds = (performance.now() - t0) / 1000;
    const rssMb = peakRssBytes() / 2 ** 20;
    const gpuMb = memoryStats(gpu).peakLiveBytes / 2 ** 20;
    for (const s of shifts.values()) s.dispose();
    if (round === 0 && !ctx.quick) continue;
    ctx.emit({
      bench: "gpt2_small",
      what: `MALMEN edit, ${facts} facts`,
      seconds: Math.round(seconds * 100) / 100,
      peak_rss_mb: Math.round(rssMb),
      gpu_live_mb: Math.round(gpuMb),
      card: gpu.adapter,
    });
  }
}
