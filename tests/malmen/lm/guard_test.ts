// Training fails fast on bad numbers: options out of range are refused before anything is
// written; a NaN loss or gradient stops the run naming the step while the last good checkpoint
// stays; a second writer and a resume on other data are refused.
import { deepStrictEqual, ok, rejects } from "node:assert/strict";
import { CPU } from "../../../engine/backend.ts";
import { lockDir } from "../../../engine/io/lock.ts";
import { GPT } from "../../../engine/models/gpt/model.ts";
import { AdamW } from "../../../engine/nn/adamw.ts";
import { loadModule } from "../../../engine/nn/checkpoint.ts";
import { NonFiniteError } from "../../../engine/nn/finite.ts";
import { loadLmRun } from "../../../malmen/lm/load.ts";
import { latestCheckpoint, OtherDataError, runPath } from "../../../malmen/lm/run_dir.ts";
import { trainLm } from "../../../malmen/lm/train.ts";
import { tinyLmConfig, tinyWorld } from "../_lm.ts";

const { corpus, tokenizer } = await tinyWorld();
const config = tinyLmConfig(tokenizer);
const base = { config, backend: CPU, batchSize: 16, lr: 1e-2, warmup: 2, logEvery: 1 };

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * Runs `fn` with AdamW poisoned from its `after`-th step on: the step writes NaN into the first
 * parameter, as a diverging update does.
 */
async function divergingAfter<T>(after: number, fn: () => Promise<T>): Promise<T> {
  const original = AdamW.prototype.step;
  let steps = 0;
  AdamW.prototype.step = function (this: AdamW): void {
    original.call(this);
    if (++steps >= after) this.arena.segments[0].param.storage.array![0] = NaN;
  };
  try {
    return await fn();
  } finally {
    AdamW.prototype.step = original;
  }
}

Deno.test("`trainLm()` refuses options out of range by name before touching the folder", async () => {
  const dir = `${await Deno.makeTempDir()}/run`;
  for (
    const [bad, message] of [
      [{ batchSize: 0 }, "trainLm(): batchSize must be an integer ≥ 1, got 0"],
      [{ batchSize: -3 }, "trainLm(): batchSize must be an integer ≥ 1, got -3"],
      [{ lr: 1e6 }, "trainLm(): lr must be a number > 0 and ≤ 1, got 1000000"],
      [{ lr: NaN }, "trainLm(): lr must be a number > 0 and ≤ 1, got NaN"],
      [{ maxEpochs: 1.5 }, "trainLm(): maxEpochs must be an integer ≥ 1, got 1.5"],
      [{ maxSeconds: 0 }, "trainLm(): maxSeconds must be a number > 0, got 0"],
    ] as const
  ) {
    await rejects(
      () => trainLm(corpus, tokenizer, { ...base, outDir: dir, ...bad }),
      (e: Error) => e instanceof RangeError && e.message === message,
    );
  }
  ok(!(await exists(dir)), "nothing was created");
});

Deno.test("a NaN loss stops `trainLm()` naming the step; the last good checkpoint stays the latest", async () => {
  const dir = await Deno.makeTempDir();
  // Five good steps, each checkpointed; the sixth update diverges.
  await rejects(
    () =>
      divergingAfter(
        6,
        () =>
          trainLm(corpus, tokenizer, { ...base, outDir: dir, maxEpochs: 10, checkpointEvery: 0 }),
      ),
    (e: Error) => {
      ok(e instanceof NonFiniteError, String(e));
      ok(/^Training diverged (at|by) step [67][ :]/.test(e.message), e.message);
      ok(
        e.message.endsWith(
          `Nothing non-finite was saved: the last checkpoint in "${dir}" (step 5) stays. Lower ` +
            `the learning rate, then resume or retrain.`,
        ),
        e.message,
      );
      return true;
    },
  );
  deepStrictEqual((await latestCheckpoint(dir))?.step, 5);
  // Every checkpoint left is finite (loadModule refuses any other), the latest loads as a run.
  for await (const e of Deno.readDir(runPath(dir, "checkpoints"))) {
    const model = new GPT(config, { backend: CPU, initialize: false });
    await loadModule(model, runPath(dir, `checkpoints/${e.name}/model.safetensors`));
    model.dispose();
  }
  const loaded = await loadLmRun(dir, CPU);
  deepStrictEqual(loaded.step, 5);
  loaded.model.dispose();
  // The lock was released: the run resumes (and diverges no more).
  const resumed = await trainLm(corpus, tokenizer, {
    ...base,
    outDir: dir,
    maxEpochs: 1,
    resume: true,
  });
  ok(resumed.steps >= 5);
  resumed.model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a divergence before any checkpoint says none was written, and the loss is checked every logged step", async () => {
  const dir = await Deno.makeTempDir();
  await rejects(
    () =>
      divergingAfter(1, () => trainLm(corpus, tokenizer, { ...base, outDir: dir, maxEpochs: 10 })),
    (e: Error) => {
      ok(
        e.message.startsWith("Training diverged at step 2 (loss NaN, gradient norm NaN). "),
        e.message,
      );
      ok(e.message.includes("no checkpoint was written"), e.message);
      return true;
    },
  );
  deepStrictEqual(await latestCheckpoint(dir), null);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("`trainLm()` refuses a folder another writer holds, and a resume on other data", async () => {
  const dir = await Deno.makeTempDir();
  const lock = await lockDir(dir, "training a language model");
  await rejects(
    () => trainLm(corpus, tokenizer, { ...base, outDir: dir, maxEpochs: 1 }),
    new RegExp(`^LockedError: "${dir}" is in use by another process \\(pid ${Deno.pid} `),
  );
  await lock.release();
  const r = await trainLm(corpus, tokenizer, { ...base, outDir: dir, maxEpochs: 1 });
  r.model.dispose();
  const other = { ...corpus, training: corpus.training.slice(1) };
  await rejects(
    () => trainLm(other, tokenizer, { ...base, outDir: dir, maxEpochs: 2, resume: true }),
    (e: Error) => {
      ok(e instanceof OtherDataError);
      ok(
        e.message.startsWith(
          `"${dir}" holds a run trained on other data (${dir}/data.json: sha256:`,
        ),
      );
      ok(e.message.endsWith("): retrain, or name another run folder"), e.message);
      return true;
    },
  );
  // Training afresh (no resume) replaces the run, its data record included.
  const fresh = await trainLm(other, tokenizer, { ...base, outDir: dir, maxEpochs: 1 });
  fresh.model.dispose();
  await Deno.remove(dir, { recursive: true });
});
