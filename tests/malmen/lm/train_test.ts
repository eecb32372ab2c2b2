import { deepStrictEqual, ok } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import { encodeFact } from "../../../malmen/lm/corpus.ts";
import { epochBatches, trainLm } from "../../../malmen/lm/train.ts";
import { createRng } from "../../../malmen/data/prng.ts";
import { GPT, lmLoss } from "../../../engine/models/gpt/model.ts";
import { disposeBatch, editBatch } from "../../../engine/models/gpt/batch.ts";
import { noGrad } from "../../../engine/autograd.ts";
import { loadLmRun } from "../../../malmen/lm/load.ts";
import { latestCheckpoint } from "../../../malmen/lm/run_dir.ts";
import { tinyLmConfig, tinyWorld } from "../_lm.ts";

const { corpus, tokenizer } = await tinyWorld();
const config = tinyLmConfig(tokenizer);
const base = {
  config,
  backend: CPU,
  batchSize: 16,
  lr: 1e-2,
  warmup: 2,
  evalEvery: 100,
  logEvery: 1,
};

Deno.test("`trainLm()` lowers the loss and a resumed run repeats the uninterrupted one exactly", async () => {
  const full = await Deno.makeTempDir();
  const split = await Deno.makeTempDir();
  const a = await trainLm(corpus, tokenizer, { ...base, outDir: full, maxEpochs: 2 });
  // Interrupted after 3 steps (mid-epoch), then resumed with the same settings.
  const stop = { requested: false };
  const first = await trainLm(corpus, tokenizer, {
    ...base,
    outDir: split,
    maxEpochs: 2,
    stop,
    onStep: (i) => {
      if (i.step === 3) stop.requested = true;
    },
  });
  const second = await trainLm(corpus, tokenizer, {
    ...base,
    outDir: split,
    maxEpochs: 2,
    resume: true,
  });
  ok(a.history.at(-1)!.loss < a.history[0].loss, "the loss must fall");
  deepStrictEqual(second.steps, a.steps);
  // Checkpoints store float32, so the resumed run matches to float32 precision.
  const la = a.history.map((h) => h.loss);
  const lb = second.history.map((h) => h.loss);
  deepStrictEqual(lb.length, la.length);
  lb.forEach((x, i) => ok(Math.abs(x - la[i]) < 1e-5, `step ${i}: ${x} vs ${la[i]}`));
  ok(first.steps < second.steps);
  for (const r of [a, first, second]) r.model.dispose();
  await Deno.remove(full, { recursive: true });
  await Deno.remove(split, { recursive: true });
});

Deno.test("`trainLm()` stops on request with a loadable checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const stop = { requested: false };
  const r = await trainLm(corpus, tokenizer, {
    ...base,
    outDir: dir,
    maxEpochs: 5,
    stop,
    onStep: (i) => {
      if (i.step === 2) stop.requested = true;
    },
  });
  ok(r.interrupted);
  deepStrictEqual(r.steps, 2);
  deepStrictEqual((await latestCheckpoint(dir))?.step, 2);
  const loaded = await loadLmRun(dir, CPU);
  deepStrictEqual(loaded.tokenizer.vocabSize, tokenizer.vocabSize);
  const a = await r.model.getParameter("wte.weight").toArray();
  const b = await loaded.model.getParameter("wte.weight").toArray();
  a.forEach((x, i) => ok(Math.abs(x - b[i]) < 1e-6));
  r.model.dispose();
  loaded.model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`loadLmRun()` explains a missing run", async () => {
  const dir = await Deno.makeTempDir();
  let message = "";
  try {
    await loadLmRun(dir, CPU);
  } catch (e) {
    message = (e as Error).message;
  }
  ok(message.includes("has no checkpoint"), message);
  await Deno.remove(dir);
});

// Lengths 4..69 like CounterFact's texts; 1000 texts in batches of 16 (the last one has 8).
const LENGTHS = (() => {
  const r = createRng(77);
  return Array.from({ length: 1000 }, () => 4 + r.nextInt(66));
})();

function meanSpread(batches: number[][], lengths: readonly number[]): number {
  const spread = batches.map((b) => {
    const ls = b.map((i) => lengths[i]);
    return Math.max(...ls) - Math.min(...ls);
  });
  return spread.reduce((a, x) => a + x, 0) / spread.length;
}

for (const bucket of [false, true]) {
  Deno.test(`\`epochBatches()\` (bucket ${bucket}) covers every text once in batches of the right size, reproducibly`, () => {
    const batches = epochBatches(LENGTHS, 16, createRng(5), bucket);
    deepStrictEqual(batches.length, Math.ceil(1000 / 16));
    const sizes = batches.map((b) => b.length).sort((a, b) => b - a);
    deepStrictEqual(sizes, [...new Array(62).fill(16), 8]);
    deepStrictEqual(batches.flat().sort((a, b) => a - b), LENGTHS.map((_, i) => i));
    // The same generator state gives the same batches; another seed, others.
    deepStrictEqual(epochBatches(LENGTHS, 16, createRng(5), bucket), batches);
    ok(
      JSON.stringify(epochBatches(LENGTHS, 16, createRng(6), bucket)) !== JSON.stringify(batches),
    );
    // Fewer texts than one batch: a single batch.
    deepStrictEqual(
      epochBatches([3, 9, 4], 16, createRng(5), bucket).flat().sort((a, b) => a - b),
      [0, 1, 2],
    );
  });
}

Deno.test("`epochBatches()` without bucketing is a shuffled order cut into batches", () => {
  const order = LENGTHS.map((_, i) => i);
  createRng(9).shuffle(order);
  const want: number[][] = [];
  for (let i = 0; i < order.length; i += 16) want.push(order.slice(i, i + 16));
  deepStrictEqual(epochBatches(LENGTHS, 16, createRng(9), false), want);
});

Deno.test("`epochBatches()` with bucketing groups similar lengths, in a shuffled batch order", () => {
  const plain = epochBatches(LENGTHS, 16, createRng(3), false);
  const bucketed = epochBatches(LENGTHS, 16, createRng(3), true);
  const a = meanSpread(plain, LENGTHS);
  const b = meanSpread(bucketed, LENGTHS);
  ok(a > 40, `unbucketed spread ${a}`);
  ok(b < a / 8, `bucketed spread ${b} vs ${a}`);
  // Batches do not come sorted by length (the batch order is shuffled after sorting).
  const firsts = bucketed.map((q) => LENGTHS[q[0]]);
  let ups = 0;
  for (let i = 1; i < firsts.length; i++) if (firsts[i] > firsts[i - 1]) ups++;
  ok(ups > 10 && ups < firsts.length - 10, `${ups} rises in ${firsts.length - 1}`);
});

for (const bucketByLength of [false, true]) {
  Deno.test(`\`trainLm()\` with \`lmWeight: 0\` trains answers only${bucketByLength ? ", bucketed by length" : ""}`, async () => {
    const dir = await Deno.makeTempDir();
    const cfg = gptConfig(config, { dModel: 16 });
    const opts = {
      ...base,
      config: cfg,
      outDir: dir,
      lr: 2e-2,
      maxEpochs: 12,
      targetAccuracy: 2,
      lmWeight: 0,
      bucketByLength,
    };
    const r = await trainLm(corpus, tokenizer, opts);
    // The first logged loss is the untrained model's answer-token cross-entropy on the first
    // batch of epoch 0 (no LM term): recompute it independently from full logits.
    const encoded = corpus.training.map((f) => encodeFact(tokenizer, f));
    const lengths = encoded.map((e) => e.prompt.length + e.answer.length);
    const first = epochBatches(lengths, base.batchSize, createRng(0), bucketByLength)[0];
    const fresh = new GPT(cfg, { seed: 0, backend: CPU });
    const batch = editBatch(first.map((i) => encoded[i]), { backend: CPU });
    const want = noGrad(() => lmLoss(fresh.forward(batch.ids), batch.labels));
    const w = (await want.toArray())[0];
    ok(Math.abs(r.history[0].loss - w) < 1e-9, `first loss ${r.history[0].loss} vs ${w}`);
    const losses = r.history.filter((h) => h.accuracy === undefined).map((h) => h.loss);
    const head = losses.slice(0, 5).reduce((a, x) => a + x, 0) / 5;
    const tail = losses.slice(-5).reduce((a, x) => a + x, 0) / 5;
    ok(tail < head / 2, `loss ${head} -> ${tail}`);
    ok(r.answerAcc > 0.6, `answer accuracy ${r.answerAcc}`);
    want.dispose();
    disposeBatch(batch);
    fresh.dispose();
    r.model.dispose();
    await Deno.remove(dir, { recursive: true });
  });
}
