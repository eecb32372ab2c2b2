/**
 * Meta-training a hyper-network editor: each step edits `nEdits` training facts at
 * once and learns from the edited model's paraphrase loss and locality KL; every `valEvery`
 * steps the editor edits held-out facts from the unedited model and ES/GS/LS are measured.
 * Checkpoints are atomic and resumable. As for the LM: one writer per run folder, the folder
 * records the hash of its facts (a resume on other facts is refused) and the LM it is made for
 * (a resume or `initFrom` with another LM is refused), and a NaN or ±Inf meta-loss or gradient
 * norm stops the run naming the step, before anything of it is saved.
 * @module
 */
import { AdamW } from "../../engine/nn/adamw.ts";
import { loadOptimizer, saveOptimizer } from "../../engine/nn/checkpoint.ts";
import { removeStaleTemps, writeJsonAtomic } from "../../engine/io/atomic.ts";
import { lockDir } from "../../engine/io/lock.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { PromptAnswer } from "../../engine/models/gpt/batch.ts";
import { keySecondMoments } from "../algorithm/key_prior.ts";
import { loadModule } from "../../engine/nn/checkpoint.ts";
import { createRng } from "../data/prng.ts";
import type { EditorConfig } from "./editor.ts";
import { HyperEditor } from "./hyper.ts";
import type { NormalizerState } from "../algorithm/normalizer.ts";
import { metaStep } from "../algorithm/scheduler.ts";
import type { EditRequest } from "../eval/requests.ts";
import { applyShifts, revertShifts } from "./journal.ts";
import { scoreRequests, type ScoreSummary, selectionScore, summarize } from "../eval/metrics.ts";
import {
  checkRunData,
  clearCheckpoints,
  latestCheckpoint,
  readRunJson,
  runPath,
  writeBestCheckpoint,
} from "../lm/run_dir.ts";
import { guardFailure, guardSave, guardStep, saveGuarded } from "../lm/guard.ts";
import { checkMadeFor, dataHash } from "../lm/identity.ts";
import { RANGES, requireInRange } from "../ranges.ts";

/** Options of {@linkcode trainEditor}. */
export interface EditorTrainOptions {
  /** Run directory. */
  outDir: string;
  /** `malmen` or `mend`. */
  editor: "malmen" | "mend";
  /** Editor settings. */
  config: EditorConfig;
  /** Facts edited per meta-step. */
  nEdits: number;
  /** Meta-steps (default: one epoch over the training facts). */
  steps?: number;
  /** Adam learning rate of the hyper-network (default 1e-4). */
  metaLr?: number;
  /** Validate every this many steps (default 10; also at the end). */
  valEvery?: number;
  /** Facts per validation edit (default `nEdits`). */
  valEdits?: number;
  /**
   * Stop once meta-training has taken this much wall time in all, resumed parts included, so an
   * interrupted run resumes to the same budget (default: none).
   */
  maxSeconds?: number;
  /** Continue from the latest checkpoint. */
  resume?: boolean;
  /**
   * Start from this editor checkpoint's weights and normaliser (fine-tuning; a fresh optimizer
   * and step 0). Ignored when resuming a run that already has a checkpoint.
   */
  initFrom?: string;
  /**
   * The LM's own training facts, for the key statistics of a key prior
   * (`config.keyPrior` or `config.editKeyPrior` > 0; computed once and saved with every
   * checkpoint).
   */
  keyPriorFacts?: readonly PromptAnswer[];
  /**
   * Fresh training facts for each epoch after the first: e.g. the same subjects with newly drawn
   * targets, templates and locality probes, so a small training split does not teach the
   * hyper-network a fixed set of edits. Must return at least `nEdits` facts.
   */
  resample?: (epoch: number) => readonly EditRequest[];
  /** Seed of the fact order. */
  seed?: number;
  /** Called after every step. */
  onStep?: (info: EditorStepInfo) => void;
  /** Set `requested` to stop after the current step with a checkpoint. */
  stop?: { requested: boolean };
  /** Resume or start from an editor made for another LM (default false: refused). */
  force?: boolean;
}

/** Progress of meta-training. */
export interface EditorStepInfo {
  /** Steps done. */
  step: number;
  /** Planned steps. */
  total: number;
  /** Meta-loss of the last step. */
  loss: number;
  /** Latest validation, if any. */
  val: ScoreSummary | null;
  /** Meta-training wall time so far, resumed parts included (what `maxSeconds` bounds). */
  seconds: number;
}

/** One validation point. */
export interface EditorHistoryPoint {
  /** Step. */
  step: number;
  /** Meta-loss. */
  loss: number;
  /** Validation summary at this step. */
  val?: ScoreSummary;
}

/** What meta-training produced. */
export interface EditorTrainResult {
  /** The trained editor (normaliser frozen). */
  editor: HyperEditor;
  /** Steps done. */
  steps: number;
  /** Wall time, including resumed parts. */
  seconds: number;
  /** Loss and validation history. */
  history: EditorHistoryPoint[];
  /** Final validation. */
  val: ScoreSummary;
  /** Whether the run stopped on request. */
  interrupted: boolean;
}

/**
 * Edits `requests` from the unedited model, scores them, and reverts.
 * @returns The summary after the edit.
 */
export async function validateEditor(
  model: GPT,
  editor: HyperEditor,
  requests: readonly EditRequest[],
): Promise<ScoreSummary> {
  const frozen = editor.net.normalizer.frozen;
  editor.net.normalizer.frozen = true;
  const shifts = await editor.computeShifts(model, requests);
  editor.net.normalizer.frozen = frozen;
  applyShifts(model, shifts);
  const s = summarize(await scoreRequests(model, requests));
  revertShifts(model);
  for (const t of shifts.values()) t.dispose();
  return s;
}

/**
 * Meta-trains an editor on `train` and validates on `val`.
 * @param model The LM (its parameters are frozen here).
 * @param train Training facts.
 * @param val Validation facts.
 * @returns The editor and its history.
 * @throws {RangeError} On an option out of its range, before anything is written.
 * @throws {LockedError} When another process trains into `outDir`.
 * @throws {OtherDataError} When resuming a run of other facts.
 * @throws {ProvenanceError} When resuming (or starting from) an editor of another LM.
 * @throws {NonFiniteError} When meta-training diverges (naming the step).
 */
export async function trainEditor(
  model: GPT,
  train: readonly EditRequest[],
  val: readonly EditRequest[],
  options: EditorTrainOptions,
): Promise<EditorTrainResult> {
  const { count } = RANGES;
  requireInRange("trainEditor()", {
    nEdits: [options.nEdits, count],
    steps: [options.steps, RANGES.countOrZero],
    metaLr: [options.metaLr, RANGES.lr],
    valEvery: [options.valEvery, count],
    valEdits: [options.valEdits, count],
    maxSeconds: [options.maxSeconds, RANGES.positive],
    seed: [options.seed, RANGES.seed],
  });
  const lock = await lockDir(options.outDir, `meta-training ${options.editor}`);
  try {
    await removeStaleTemps(options.outDir);
    return await metaTrain(model, train, val, options);
  } finally {
    await lock.release();
  }
}

/**
 * The facts a meta-training run is trained and selected on, as one hash (`data.json`): their
 * records and token ids (so the same records under another tokenizer differ too).
 * @param train Training facts.
 * @param val Validation facts.
 */
export function editorDataHash(
  train: readonly EditRequest[],
  val: readonly EditRequest[],
): Promise<string> {
  return dataHash({ train, val });
}

async function metaTrain(
  model: GPT,
  train: readonly EditRequest[],
  val: readonly EditRequest[],
  options: EditorTrainOptions,
): Promise<EditorTrainResult> {
  const o = { metaLr: 1e-4, valEvery: 10, seed: 0, resume: false, ...options };
  if (train.length < o.nEdits) {
    throw new RangeError(
      `Meta-training needs at least ${o.nEdits} training facts, got ${train.length}`,
    );
  }
  const stepsPerEpoch = Math.floor(train.length / o.nEdits);
  const total = o.steps ?? stepsPerEpoch;
  const valSet = val.slice(0, o.valEdits ?? o.nEdits);
  model.setTrainable(false);
  const editor = new HyperEditor(o.editor, model, o.config);
  const optimizer = new AdamW(editor.net, { lr: o.metaLr, weightDecay: 0, maxGradNorm: 1 });
  try {
    let state = {
      step: 0,
      seconds: 0,
      history: [] as EditorHistoryPoint[],
      bestScore: -1,
    };
    const latest = o.resume ? await latestCheckpoint(o.outDir) : null;
    await checkRunData(o.outDir, await editorDataHash(train, val), { fresh: latest === null });
    const guard = { what: "Meta-training", dir: o.outDir, saved: latest?.step ?? null };
    if (latest !== null) {
      checkMadeFor(
        `The editor run in "${o.outDir}"`,
        await HyperEditor.madeFor(latest.folder),
        model,
        o,
      );
      await loadModule(editor.net, runPath(latest.folder, "editor.safetensors"));
      editor.net.normalizer.loadState(
        await readRunJson<NormalizerState>(runPath(latest.folder, "normalizer.json")),
      );
      await loadOptimizer(optimizer, runPath(latest.folder, "optimizer.safetensors"));
      state = {
        bestScore: -1,
        // Older runs have no bestScore.
        ...await readRunJson<Omit<typeof state, "bestScore">>(
          runPath(latest.folder, "state.json"),
        ),
      };
      if (editor.usesKeyPrior) await editor.loadKeyMoments(latest.folder);
    } else if (o.initFrom !== undefined) {
      const from = await HyperEditor.load(o.initFrom, model, o);
      editor.net.loadStateDict(from.net.stateDict());
      editor.net.normalizer.loadState(await from.net.normalizer.saveState());
      from.dispose();
    }
    // A fresh run replaces what the folder held (after `initFrom`, which may lie inside it).
    if (latest === null) await clearCheckpoints(o.outDir);
    if (editor.usesKeyPrior && editor.keyMoments === null) {
      if (o.keyPriorFacts === undefined) {
        throw new Error(
          "A key prior (config.keyPrior or editKeyPrior > 0) needs keyPriorFacts (the LM's own training facts)",
        );
      }
      editor.setKeyMoments(
        keySecondMoments(model, o.keyPriorFacts, o.config.layers, o.config.lmBatch),
      );
    }
    const save = () =>
      saveGuarded(guard, state.step, async (folder) => {
        await editor.save(folder);
        await saveOptimizer(optimizer, runPath(folder, "optimizer.safetensors"));
        await writeJsonAtomic(runPath(folder, "state.json"), state);
      });
    const start = performance.now();
    const base = state.seconds;
    const elapsed = (): number => base + (performance.now() - start) / 1000;
    let interrupted = false;
    let lastVal: ScoreSummary | null = null;
    // Checkpoint selection on the validation split: the best editor is kept apart.
    const keepIfBest = async (val: ScoreSummary): Promise<void> => {
      const score = selectionScore(val);
      if (score <= state.bestScore) return;
      state.bestScore = score;
      await guardSave(
        state.step,
        guard,
        () => writeBestCheckpoint(o.outDir, state.step, (folder) => editor.save(folder)),
      );
    };
    // One draw per epoch (an epoch spans several steps when nEdits < the training facts).
    let cached = { epoch: 0, facts: train };
    const epochFacts = (epoch: number): readonly EditRequest[] => {
      if (epoch === 0 || o.resample === undefined) return train;
      if (cached.epoch !== epoch) {
        const facts = o.resample(epoch);
        if (facts.length < o.nEdits) {
          throw new RangeError(
            `resample(${epoch}) gave ${facts.length} facts, fewer than ${o.nEdits}`,
          );
        }
        cached = { epoch, facts };
      }
      return cached.facts;
    };
    while (state.step < total) {
      const epoch = Math.floor(state.step / stepsPerEpoch);
      const pool = epochFacts(epoch);
      const order = Array.from({ length: pool.length }, (_, i) => i);
      createRng((o.seed * 104729 + epoch) >>> 0).shuffle(order);
      const s = state.step % stepsPerEpoch;
      const facts = order.slice(s * o.nEdits, (s + 1) * o.nEdits).map((i) => pool[i]);
      // Non-finite weights can also fail a step (e.g. the ridge solve's factorisation): said so.
      const explain = (e: unknown) => guardFailure(state.step + 1, guard, e, editor.net);
      const r = await metaStep(model, editor, optimizer, facts).catch(explain);
      state.step++;
      const norm = await optimizer.lastGradNorm.item();
      guardStep(state.step, { "meta-loss": r.loss, "gradient norm": norm }, guard);
      const point: EditorHistoryPoint = { step: state.step, loss: r.loss };
      if (state.step % o.valEvery === 0 || state.step === total) {
        lastVal = await validateEditor(model, editor, valSet).catch(explain);
        point.val = lastVal;
      }
      state.history.push(point);
      o.onStep?.({ step: state.step, total, loss: r.loss, val: lastVal, seconds: elapsed() });
      if (point.val) {
        state.seconds = elapsed();
        await keepIfBest(point.val);
        await save();
      }
      if (o.stop?.requested) {
        interrupted = true;
        break;
      }
      if (o.maxSeconds !== undefined && elapsed() > o.maxSeconds) break;
    }
    if (lastVal === null || state.history.at(-1)?.val === undefined) {
      lastVal = await validateEditor(model, editor, valSet);
      state.history.push({
        step: state.step,
        loss: state.history.at(-1)?.loss ?? NaN,
        val: lastVal,
      });
      await keepIfBest(lastVal);
    }
    state.seconds = elapsed();
    await save();
    optimizer.dispose();
    editor.net.normalizer.frozen = true;
    return {
      editor,
      steps: state.step,
      seconds: state.seconds,
      history: state.history,
      val: lastVal,
      interrupted,
    };
  } catch (e) {
    // A diverged or failed run leaves no tensors behind.
    optimizer.dispose();
    editor.dispose();
    throw e;
  }
}
