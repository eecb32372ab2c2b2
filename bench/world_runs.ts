// Trained artefacts the editing benchmarks need (LM, MALMEN, MEND on the embedded world),
// reused from bench/runs/ when present, trained (with progress on stderr) when not.
import type { GpuBackend } from "../engine/backend.ts";
import type { GPT } from "../engine/models/gpt/model.ts";
import type { Tokenizer } from "../engine/models/tokenizer/tokenizer.ts";
import { defaultEditorConfig } from "../malmen/editors/editor.ts";
import { HyperEditor } from "../malmen/editors/hyper.ts";
import { loadLmRun } from "../malmen/lm/load.ts";
import { bestCheckpoint, latestCheckpoint } from "../malmen/lm/run_dir.ts";
import type { GPTConfig } from "../engine/models/gpt/config.ts";
import { trainLm } from "../malmen/lm/train.ts";
import { DEMO_BUDGET, modelConfigFor, type WorldSetup, worldSetup } from "../malmen/workflows.ts";
import { type EditRequest, toRequests } from "../malmen/eval/requests.ts";
import { trainEditor } from "../malmen/editors/train_editor.ts";

/**
 * Where the runs live: the demo's output folder, so `deno task demo` and the benchmarks share
 * one trained LM and editors (trained here with the demo's settings when absent).
 */
export const BENCH_RUNS = "runs/demo";

/** Another model or meta-training setting for the same world (its own run folder). */
export interface WorldVariant {
  /** Run folder (instead of {@linkcode BENCH_RUNS}). */
  dir: string;
  /** Model overrides (e.g. a wider FFN). */
  model: Partial<GPTConfig>;
  /** Facts per meta-training step. */
  nEdits: number;
}

/** The embedded-world artefacts. */
export interface WorldRuns {
  /** World, corpus, tokenizer. */
  setup: WorldSetup;
  /** The trained LM (frozen). */
  model: GPT;
  /** Its tokenizer. */
  tokenizer: Tokenizer;
  /** Held-out edit requests (subjects never meta-trained on). */
  edits: EditRequest[];
  /** Loads (or meta-trains) an editor. */
  editor: (name: "malmen" | "mend") => Promise<HyperEditor>;
}

/**
 * Loads or trains the LM, and gives access to the editors.
 * @param gpu The backend.
 * @param log Progress messages.
 * @param budget Minutes for LM training and per editor, when they must be trained.
 * @returns The artefacts.
 */
export async function worldRuns(
  gpu: GpuBackend,
  log: (m: string) => void,
  budget = { lm: DEMO_BUDGET.lmMinutes, meta: DEMO_BUDGET.metaMinutes },
  variant: WorldVariant = { dir: BENCH_RUNS, model: {}, nEdits: DEMO_BUDGET.nEdits },
): Promise<WorldRuns> {
  const setup = await worldSetup();
  const lmDir = `${variant.dir}/lm`;
  if ((await latestCheckpoint(lmDir)) === null) {
    log(`training the language model (up to ${budget.lm} min) into ${lmDir}`);
    const r = await trainLm(setup.corpus, setup.tokenizer, {
      outDir: lmDir,
      config: modelConfigFor(setup.tokenizer, variant.model),
      backend: gpu,
      maxSeconds: budget.lm * 60,
    });
    r.model.dispose();
  }
  const { model, tokenizer } = await loadLmRun(lmDir, gpu);
  const n = model.config.nCtx;
  const edits = toRequests(tokenizer, setup.world.edit, n);
  const editor = async (name: "malmen" | "mend"): Promise<HyperEditor> => {
    const dir = `${variant.dir}/${name}`;
    const latest = (await bestCheckpoint(dir)) ?? (await latestCheckpoint(dir));
    if (latest !== null) return await HyperEditor.load(latest.folder, model);
    log(`meta-training ${name} (up to ${budget.meta} min) into ${dir}`);
    const r = await trainEditor(
      model,
      toRequests(tokenizer, setup.world.train, n),
      toRequests(tokenizer, setup.world.val, n),
      {
        outDir: dir,
        editor: name,
        config: defaultEditorConfig(model.config.nLayer),
        nEdits: variant.nEdits,
        steps: 10_000,
        valEvery: DEMO_BUDGET.valEvery,
        metaLr: DEMO_BUDGET.metaLr,
        maxSeconds: budget.meta * 60,
      },
    );
    return r.editor;
  };
  return { setup, model, tokenizer, edits, editor };
}
