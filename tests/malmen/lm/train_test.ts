import { deepStrictEqual, ok } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { gptConfig } from "../../../engine/models/gpt/config.ts";
import { buildCompactTokenizer } from "../../../engine/models/tokenizer/compact.ts";
import { loadGpt2Tokenizer } from "../../../engine/models/tokenizer/gpt2.ts";
import { generateWorld } from "../../../malmen/data/world.ts";
import { corpusTexts, worldCorpus } from "../../../malmen/lm/corpus.ts";
import { trainLm } from "../../../malmen/lm/train.ts";
import { loadLmRun } from "../../../malmen/lm/load.ts";
import { latestCheckpoint } from "../../../malmen/lm/run_dir.ts";

const world = generateWorld({
  seed: 2,
  people: 8,
  countries: 4,
  citiesPerCountry: 1,
  companies: 4,
});
const corpus = worldCorpus(world);
const tokenizer = buildCompactTokenizer(await loadGpt2Tokenizer(), corpusTexts(corpus));
const config = gptConfig({
  vocabSize: tokenizer.vocabSize,
  nCtx: 24,
  dModel: 8,
  nLayer: 1,
  nHead: 2,
  layerNormEps: 1e-5,
});
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
