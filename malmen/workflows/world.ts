/**
 * The embedded world end to end: its LM and its MALMEN, MEND and MEMIT editors in one run folder
 * (`<dir>/lm`, `<dir>/malmen`, `<dir>/mend`, `<dir>/memit`), loaded when trained, trained when
 * not. The demo,
 * the benchmarks and the world experiments share it.
 * @module
 */
import type { Backend } from "../../engine/backend.ts";
import { writeJsonAtomic } from "../../engine/io/atomic.ts";
import type { GPTConfig } from "../../engine/models/gpt/config.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import type { WorldOptions } from "../data/world.ts";
import { defaultEditorConfig, type EditorConfig } from "../editors/editor.ts";
import type { EditorStepInfo } from "../editors/train_editor.ts";
import type { MemitSettings } from "../editors/memit.ts";
import { type EditRequest, toRequests } from "../eval/requests.ts";
import { encodeFact } from "../lm/corpus.ts";
import { loadLmRun } from "../lm/load.ts";
import { latestCheckpoint, runPath } from "../lm/run_dir.ts";
import type { StepInfo } from "../lm/train.ts";
import { type EditorRun, editorRun, type LmRun, lmRun, loadEditorRun } from "./runs.ts";
import { type MemitRun, memitRun } from "./memit_run.ts";
// `FtChoice` is written out in `WorldRuns.ft`: the public surface does not name it.
import { chooseFtLayers } from "./ft_choice.ts";
import type { FtEditor } from "../editors/ft.ts";
import type { ScoreSummary } from "../eval/metrics.ts";
import {
  DEFAULT_WORLD,
  memitGrid,
  WORLD_BUDGET,
  type WorldBudget,
  worldEditorSettings,
  worldMalmenSettings,
} from "./settings.ts";
import { modelConfigFor, type WorldSetup, worldSetup } from "./setup.ts";
import { isNotFound, platform } from "../../engine/platform/mod.ts";

/** The world a run folder was trained on (its generator options). */
const WORLD_FILE = "world.json";

/** Options of {@linkcode worldRuns}. */
export interface WorldRunsOptions {
  /** The run folder. */
  dir: string;
  /** Where to run. */
  backend: Backend;
  /** The world (default: the demo's, `DEFAULT_WORLD` in `malmen/workflows/settings.ts`). */
  world?: WorldOptions;
  /** Model overrides of the tiny preset (e.g. a wider FFN). */
  model?: Partial<GPTConfig>;
  /**
   * Editor overrides of `defaultEditorConfig` with the world settings
   * (`worldMalmenSettings`, `worldEditorSettings`), for every editor.
   */
  editor?: Partial<EditorConfig>;
  /** MEMIT's settings over `defaultMemitSettings`. */
  memit?: Partial<MemitSettings>;
  /** MEMIT candidates chosen among on the validation split (default `memitGrid`). */
  memitGrid?: readonly Partial<MemitSettings>[];
  /** Budgets (default `WORLD_BUDGET` in `malmen/workflows/settings.ts`). */
  budget?: Partial<WorldBudget>;
  /**
   * Train what is missing (default true). False only loads, with a clear error naming what is
   * missing (benchmarks measure trained runs; they never train one implicitly).
   */
  train?: boolean;
  /** Train everything from scratch, ignoring the folder (default false). */
  retrain?: boolean;
  /** Set `requested` to stop after the current step, leaving a resumable run. */
  stop?: { requested: boolean };
  /** Progress messages. */
  log?: (message: string) => void;
  /** LM training progress. */
  onLmStep?: (info: StepInfo) => void;
  /** Meta-training progress. */
  onEditorStep?: (editor: "malmen" | "mend", info: EditorStepInfo) => void;
}

/** The world's trained artefacts. */
export interface WorldRuns {
  /** World, corpus, tokenizer. */
  setup: WorldSetup;
  /** The LM run (its model frozen). */
  lm: LmRun;
  /** The trained LM (frozen). */
  model: GPT;
  /** Its tokenizer. */
  tokenizer: Tokenizer;
  /** Meta-training facts. */
  train: EditRequest[];
  /** Validation facts. */
  val: EditRequest[];
  /** Held-out edit facts (subjects never meta-trained on). */
  edits: EditRequest[];
  /** An editor at its best validation checkpoint (meta-trained first when allowed). */
  editor: (name: "malmen" | "mend") => Promise<EditorRun>;
  /** The MEMIT editor of `<dir>/memit` (its statistics computed first when allowed). */
  memit: () => Promise<MemitRun>;
  /**
   * FT on its layers chosen on the validation split: the hyper-network editors' layers or the
   * last half of the blocks (`defaultEditorConfig`).
   */
  ft: () => Promise<{
    /** FT on the chosen blocks. */
    editor: FtEditor;
    /** Each tried block set with its validation scores and selection score, in order. */
    grid: { layers: number[]; val: ScoreSummary; selection: number }[];
  }>;
}

/**
 * Loads or trains the world's LM, and gives access to its editors.
 * @param options Folder, backend, world, budgets, reuse and progress.
 * @returns The artefacts (the caller disposes the model and editors).
 */
export async function worldRuns(options: WorldRunsOptions): Promise<WorldRuns> {
  const budget = { ...WORLD_BUDGET, ...options.budget };
  const worldOptions = options.world ?? DEFAULT_WORLD;
  const setup = await worldSetup(worldOptions);
  const lmDir = runPath(options.dir, "lm");
  const canTrain = options.train ?? true;
  await checkWorld(options.dir, worldOptions, canTrain, options.retrain ?? false);
  let lm: LmRun;
  if (canTrain) {
    lm = await lmRun(setup, {
      outDir: lmDir,
      config: modelConfigFor(setup.tokenizer, options.model),
      backend: options.backend,
      maxEpochs: budget.lmEpochs,
      maxSeconds: budget.lmMinutes * 60,
      retrain: options.retrain,
      stop: options.stop,
      log: options.log,
      onStep: options.onLmStep,
    });
  } else {
    await requireRun(lmDir, "language model");
    const loaded = await loadLmRun(lmDir, options.backend);
    lm = { ...loaded, done: null, history: [], interrupted: false };
  }
  const { model, tokenizer } = lm;
  const requests = (records: Parameters<typeof toRequests>[1]) =>
    toRequests(tokenizer, records, model.config.nCtx);
  const train = requests(setup.world.train);
  const val = requests(setup.world.val);
  const nLayer = model.config.nLayer;
  const configOf = (name: "malmen" | "mend"): EditorConfig => ({
    ...defaultEditorConfig(nLayer),
    ...(name === "malmen" ? worldMalmenSettings(nLayer) : worldEditorSettings(nLayer)),
    ...options.editor,
  });
  const editorConfig = {
    ...defaultEditorConfig(nLayer),
    ...worldEditorSettings(nLayer),
    ...options.editor,
  };
  const trainingTexts = setup.corpus.training.map((f) => encodeFact(tokenizer, f));
  const editor = async (name: "malmen" | "mend"): Promise<EditorRun> => {
    const dir = runPath(options.dir, name);
    if (!canTrain) {
      await requireRun(dir, `${name} editor`);
      return { ...(await loadEditorRun(dir, model)), interrupted: false };
    }
    return await editorRun(model, train, val, {
      outDir: dir,
      editor: name,
      config: configOf(name),
      nEdits: Math.min(budget.nEdits, train.length),
      steps: budget.metaSteps,
      keyPriorFacts: trainingTexts,
      valEvery: budget.valEvery,
      metaLr: budget.metaLr,
      valEdits: Math.min(val.length, budget.nEdits),
      maxSeconds: budget.metaMinutes * 60,
      retrain: options.retrain,
      stop: options.stop,
      log: options.log,
      onStep: (info) => options.onEditorStep?.(name, info),
    });
  };
  const memit = (): Promise<MemitRun> =>
    memitRun(model, {
      dir: runPath(options.dir, "memit"),
      texts: trainingTexts.map((p) => [...p.prompt, ...p.answer]),
      val,
      settings: options.memit,
      grid: options.memitGrid ?? memitGrid(model.config.nLayer),
      train: canTrain,
      retrain: options.retrain,
      log: options.log,
    });
  const ft = () =>
    chooseFtLayers(
      model,
      editorConfig,
      [editorConfig.layers, defaultEditorConfig(nLayer).layers],
      val,
      options.log,
    );
  return {
    setup,
    lm,
    model,
    tokenizer,
    train,
    val,
    edits: requests(setup.world.edit),
    editor,
    memit,
    ft,
  };
}

// The folder records the world it was trained on: runs of another world (e.g. the demo's
// --quick world) would be measured on facts they never saw, with another tokenizer.
async function checkWorld(
  dir: string,
  world: WorldOptions,
  write: boolean,
  fresh: boolean,
): Promise<void> {
  const path = runPath(dir, WORLD_FILE);
  const want = JSON.stringify(world);
  let have: string | null = null;
  try {
    have = JSON.stringify(JSON.parse(await platform().readTextFile(path)));
  } catch (e) {
    if (!isNotFound(e)) throw new Error(`${path}: ${(e as Error).message}`);
  }
  if (have !== null && have !== want && !(write && fresh)) {
    throw new Error(
      `"${dir}" holds runs of another world (${path}): retrain, or name another run folder`,
    );
  }
  if (write && have !== want) {
    await platform().mkdir(dir);
    await writeJsonAtomic(path, world);
  }
}

async function requireRun(dir: string, what: string): Promise<void> {
  if ((await latestCheckpoint(dir)) === null) {
    throw new Error(
      `No trained ${what} in "${dir}" (no latest.json): run \`deno task demo\` first, or name ` +
        `another run folder`,
    );
  }
}
