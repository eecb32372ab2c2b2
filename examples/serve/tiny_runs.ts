/**
 * A small but real run folder for the web app's checks, made in seconds: a world of a dozen
 * people, a 2-block GPT trained on it, a MALMEN editor meta-trained on its training facts for a
 * fixed number of steps, a MEMIT editor (key covariances over the LM's texts, default settings),
 * and the held-out facts as `edits.json` — the layout `deno task demo` writes, so the app serves
 * it like the demo's. Fixed step budgets, no time limits.
 * @module
 */
import type { Backend } from "../../engine/backend.ts";
import { writeJsonAtomic } from "../../engine/io/atomic.ts";
import type { EditRecord } from "../../malmen/data/edit_record.ts";
import type { WorldOptions } from "../../malmen/data/world.ts";
import { defaultEditorConfig } from "../../malmen/editors/editor.ts";
import { toRequests } from "../../malmen/eval/requests.ts";
import { encodeFact } from "../../malmen/lm/corpus.ts";
import { memitRun } from "../../malmen/workflows/memit_run.ts";
import { editorRun, lmRun } from "../../malmen/workflows/runs.ts";
import { modelConfigFor, worldSetup } from "../../malmen/workflows/setup.ts";

/** The world of the tiny runs. */
export const TINY_WORLD: WorldOptions = {
  seed: 3,
  people: 12,
  countries: 4,
  citiesPerCountry: 1,
  companies: 4,
  split: { train: 0.5, val: 0.1, edit: 0.3, locality: 0.1 },
};

/** Budgets of the tiny runs (fixed step counts). */
export interface TinyBudget {
  /** Passes over the LM corpus (default 15). */
  lmEpochs?: number;
  /** MALMEN meta-training steps (default 10). */
  metaSteps?: number;
  /** Progress messages. */
  log?: (message: string) => void;
}

/**
 * Trains the tiny runs into `dir` (`lm/`, `malmen/`, `memit/`, `edits.json`); runs already
 * finished there are reused.
 * @returns The held-out facts (also in `edits.json`).
 */
export async function writeTinyRuns(
  dir: string,
  backend: Backend,
  budget: TinyBudget = {},
): Promise<EditRecord[]> {
  const log = budget.log ?? (() => {});
  const setup = await worldSetup(TINY_WORLD);
  const config = modelConfigFor(setup.tokenizer, { nCtx: 24, dModel: 16, nLayer: 2, nHead: 2 });
  const lm = await lmRun(setup, {
    outDir: `${dir}/lm`,
    config,
    backend,
    batchSize: 32,
    lr: 1e-2,
    warmup: 5,
    maxEpochs: budget.lmEpochs ?? 15,
    targetAccuracy: 1,
    log,
  });
  try {
    const requests = (r: readonly EditRecord[]) =>
      toRequests(setup.tokenizer, r, lm.model.config.nCtx);
    const { world } = setup;
    const run = await editorRun(lm.model, requests(world.train), requests(world.val), {
      outDir: `${dir}/malmen`,
      editor: "malmen",
      config: { ...defaultEditorConfig(2), lmBatch: 16, rank: 16 },
      nEdits: 8,
      steps: budget.metaSteps ?? 10,
      valEvery: 5,
      valEdits: 8,
      metaLr: 1e-3,
      log,
    });
    run.editor.dispose();
    const memit = await memitRun(lm.model, {
      dir: `${dir}/memit`,
      texts: setup.corpus.training.map((f) => {
        const p = encodeFact(setup.tokenizer, f);
        return [...p.prompt, ...p.answer];
      }),
      val: requests(world.val),
      settings: { steps: 10 },
      log,
    });
    memit.editor.dispose();
    await writeJsonAtomic(`${dir}/edits.json`, world.edit);
    return world.edit;
  } finally {
    lm.model.dispose();
  }
}
