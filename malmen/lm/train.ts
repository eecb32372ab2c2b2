/**
 * Training the language model that MALMEN edits: shuffled LM batches, AdamW with warm-up and
 * cosine decay, losses read back only every few steps, answer accuracy measured on the device,
 * resumable atomic checkpoints, and a clean stop on Ctrl-C.
 * @module
 */
import type { Backend } from "../../engine/backend.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { keep, tidy } from "../../engine/scope.ts";
import { GPT } from "../../engine/models/gpt/model.ts";
import { type GPTConfig, gptConfig } from "../../engine/models/gpt/config.ts";
import { disposeBatch, editBatch, lmBatch } from "../../engine/models/gpt/batch.ts";
import { add, mul } from "../../engine/ops/elementwise.ts";
import { slice } from "../../engine/ops/view.ts";
import { lmLoss } from "../../engine/models/gpt/model.ts";
import { AdamW } from "../../engine/nn/adamw.ts";
import {
  loadModule,
  loadOptimizer,
  saveModule,
  saveOptimizer,
} from "../../engine/nn/checkpoint.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import { writeJsonAtomic } from "../../engine/io/atomic.ts";
import { createRng, type Rng } from "../data/prng.ts";
import { encodeFact, type LmCorpus } from "./corpus.ts";
import { meanAccuracy } from "./evaluate.ts";
import { lrAt } from "./schedule.ts";
import { latestCheckpoint, runPath, writeCheckpoint } from "./run_dir.ts";
import { platform } from "../../engine/platform/mod.ts";

/** Options of {@linkcode trainLm}. */
export interface LmTrainOptions {
  /** Run directory (checkpoints, config, tokenizer, loss history). */
  outDir: string;
  /** Model configuration (its vocabulary must match the tokenizer). */
  config: GPTConfig;
  /** Where to train. */
  backend: Backend;
  /** Seed of initialisation and shuffling. */
  seed?: number;
  /** Sequences per step (default 64). */
  batchSize?: number;
  /** Peak learning rate (default 6e-3). */
  lr?: number;
  /** Warm-up steps (default 50). */
  warmup?: number;
  /** Weight decay (default 0: the model must memorise). */
  weightDecay?: number;
  /** Stop after this many epochs (default 200). */
  maxEpochs?: number;
  /** Stop after this much wall time in seconds (default 600). */
  maxSeconds?: number;
  /** Stop once answer accuracy on the facts reaches this (default 0.995). */
  targetAccuracy?: number;
  /** Read the loss back every this many steps (default 25). */
  logEvery?: number;
  /** Measure accuracy every this many epochs (default 1). */
  evalEvery?: number;
  /** Facts sampled for the accuracy checks during training (default 1024; all at the end). */
  evalSample?: number;
  /**
   * Extra weight of the answer tokens: the loss is LM cross-entropy over all tokens plus this
   * times the cross-entropy over answer tokens only (default 1), so memorising facts is not
   * drowned out by unpredictable name tokens.
   */
  answerWeight?: number;
  /**
   * Weight of the cross-entropy over all tokens (default 1). With 0 only answer tokens are
   * trained, and the output layer runs on answer positions alone: with a large vocabulary
   * (CounterFact's 20k types) that is most of the cost of a step.
   */
  lmWeight?: number;
  /**
   * Group texts of similar length into the same batch (default false): padding to the longest
   * row then wastes little when lengths vary a lot (CounterFact: 4 to 69 tokens). Batches are
   * still drawn in a random order.
   */
  bucketByLength?: boolean;
  /** Write a checkpoint at least every this many seconds (default 60). */
  checkpointEvery?: number;
  /** Continue from the run directory's latest checkpoint. */
  resume?: boolean;
  /** Progress: called after every step with the latest known loss. */
  onStep?: (info: StepInfo) => void;
  /** Set to true (e.g. by a SIGINT handler) to stop after the current step with a checkpoint. */
  stop?: { requested: boolean };
}

/** Per-step progress. */
export interface StepInfo {
  /** Steps done. */
  step: number;
  /** Planned steps (epochs × steps per epoch). */
  total: number;
  /** Epoch (0-based). */
  epoch: number;
  /** Most recent loss read back. */
  loss: number;
  /** Most recent answer accuracy measured, or NaN. */
  accuracy: number;
}

/** One point of the loss curve. */
export interface HistoryPoint {
  /** Step. */
  step: number;
  /** Training loss (mean over the batch). */
  loss: number;
  /** Answer accuracy if measured at this step. */
  accuracy?: number;
}

/** What a training run produced. */
export interface LmTrainResult {
  /** The trained model (caller disposes). */
  model: GPT;
  /** Number of distinct facts scored. */
  facts: number;
  /** Teacher-forced top-1 accuracy on the facts' answer tokens. */
  answerAcc: number;
  /** The same on held-out phrasings. */
  paraphraseAcc: number;
  /** Wall time of this invocation plus earlier resumed ones. */
  seconds: number;
  /** Steps done. */
  steps: number;
  /** Loss curve. */
  history: HistoryPoint[];
  /** Whether the run stopped early on Ctrl-C. */
  interrupted: boolean;
}

interface RunState {
  step: number;
  seconds: number;
  history: HistoryPoint[];
}

/**
 * Trains (or resumes) a GPT on a corpus until the answer accuracy target, the epoch limit or the
 * time limit is reached. Writes `config.json`, `tokenizer.json` and checkpoints into `outDir`.
 * @param corpus Training texts and scored facts.
 * @param tokenizer The tokenizer (saved with the model).
 * @param options Hyper-parameters, limits and callbacks.
 * @returns The model and its final accuracies.
 */
export async function trainLm(
  corpus: LmCorpus,
  tokenizer: Tokenizer,
  options: LmTrainOptions,
): Promise<LmTrainResult> {
  const o = {
    seed: 0,
    batchSize: 64,
    lr: 6e-3,
    warmup: 50,
    weightDecay: 0,
    maxEpochs: 200,
    maxSeconds: 600,
    targetAccuracy: 0.995,
    logEvery: 25,
    evalEvery: 1,
    evalSample: 1024,
    answerWeight: 1,
    lmWeight: 1,
    bucketByLength: false,
    checkpointEvery: 60,
    resume: false,
    ...options,
  };
  const config = gptConfig(o.config);
  if (config.vocabSize < tokenizer.vocabSize) {
    throw new RangeError(
      `Model vocabulary ${config.vocabSize} is smaller than the tokenizer's ${tokenizer.vocabSize}`,
    );
  }
  const encoded = corpus.training.map((f) => encodeFact(tokenizer, f));
  const sequences = encoded.map(({ prompt, answer }) => [...prompt, ...answer]);
  const factPairs = corpus.facts.map((f) => encodeFact(tokenizer, f));
  const paraphrasePairs = corpus.paraphrases.map((f) => encodeFact(tokenizer, f));
  // A fixed sample of facts for the accuracy checks during training (the full set at the end).
  const sampleIdx = Array.from({ length: factPairs.length }, (_, i) => i);
  createRng(12345).shuffle(sampleIdx);
  const evalPairs = sampleIdx.slice(0, o.evalSample).map((i) => factPairs[i]);
  const tooLong = sequences.findIndex((s) => s.length - 1 > config.nCtx);
  if (tooLong >= 0) {
    throw new RangeError(
      `Training text ${tooLong} has ${
        sequences[tooLong].length
      } tokens; the context is ${config.nCtx}`,
    );
  }

  const model = new GPT(config, { seed: o.seed, backend: o.backend });
  const optimizer = new AdamW(model, { lr: o.lr, weightDecay: o.weightDecay, maxGradNorm: 1 });
  const stepsPerEpoch = Math.ceil(sequences.length / o.batchSize);
  const totalSteps = stepsPerEpoch * o.maxEpochs;
  const schedule = { lr: o.lr, minLr: o.lr / 10, warmup: o.warmup, total: totalSteps };
  let state: RunState = { step: 0, seconds: 0, history: [] };

  await platform().mkdir(o.outDir);
  const latest = o.resume ? await latestCheckpoint(o.outDir) : null;
  if (latest !== null) {
    await loadModule(model, runPath(latest.folder, "model.safetensors"));
    await loadOptimizer(optimizer, runPath(latest.folder, "optimizer.safetensors"));
    state = JSON.parse(await platform().readTextFile(runPath(latest.folder, "state.json")));
  }
  await writeJsonAtomic(runPath(o.outDir, "config.json"), config);
  await writeJsonAtomic(runPath(o.outDir, "tokenizer.json"), tokenizer.toJSON());

  const save = (): Promise<string> =>
    writeCheckpoint(o.outDir, state.step, async (folder) => {
      await saveModule(model, runPath(folder, "model.safetensors"));
      await saveOptimizer(optimizer, runPath(folder, "optimizer.safetensors"));
      await writeJsonAtomic(runPath(folder, "config.json"), config);
      await writeJsonAtomic(runPath(folder, "tokenizer.json"), tokenizer.toJSON());
      await writeJsonAtomic(runPath(folder, "state.json"), state);
    });

  const start = performance.now();
  const baseSeconds = state.seconds;
  const elapsed = (): number => baseSeconds + (performance.now() - start) / 1000;
  let lastSave = performance.now();
  let loss = state.history.at(-1)?.loss ?? NaN;
  let accuracy = NaN;
  let interrupted = false;

  for (let epoch = Math.floor(state.step / stepsPerEpoch); epoch < o.maxEpochs; epoch++) {
    // The order depends only on (seed, epoch), so a resumed run sees the same batches.
    const batches = epochBatches(
      sequences.map((q) => q.length),
      o.batchSize,
      createRng((o.seed * 7919 + epoch) >>> 0),
      o.bucketByLength,
    );
    for (let s = state.step - epoch * stepsPerEpoch; s < stepsPerEpoch; s++) {
      const picked = batches[s];
      const batch = o.lmWeight > 0
        ? lmBatch(picked.map((i) => sequences[i]), { backend: o.backend })
        : null;
      const answers = o.answerWeight > 0 || batch === null
        ? editBatch(picked.map((i) => encoded[i]), { backend: o.backend })
        : null;
      optimizer.lr = lrAt(schedule, state.step);
      const logStep = (state.step + 1) % o.logEvery === 0;
      const l = tidy(() => {
        optimizer.zeroGrad();
        let out: Tensor;
        if (batch === null) {
          // Answers only: logits at the answer positions alone.
          const a = answers!;
          out = lmLoss(model.forward(a.ids, { at: a.positions }), a.targets);
        } else {
          // Both batches share inputs (prompt ++ answer[:-1] is the LM input minus its last
          // token), so one forward serves both losses.
          const logits = model.forward(batch.ids);
          out = mul(lmLoss(logits, batch.labels), o.lmWeight);
          if (answers !== null) {
            const t = answers.length;
            const lg = t === batch.length
              ? logits
              : slice(logits, [0, 0, 0], [logits.shape[0], t, logits.shape[2]]);
            out = add(out, mul(lmLoss(lg, answers.labels), o.answerWeight));
          }
        }
        out.backward();
        optimizer.step();
        return logStep ? keep(out) : null;
      });
      if (batch !== null) disposeBatch(batch);
      if (answers !== null) disposeBatch(answers);
      state.step++;
      if (l !== null) {
        loss = (await l.toArray())[0];
        l.dispose();
        state.history.push({ step: state.step, loss });
      }
      o.onStep?.({ step: state.step, total: totalSteps, epoch, loss, accuracy });
      if (o.stop?.requested) {
        interrupted = true;
        break;
      }
      if (elapsed() > o.maxSeconds) break;
      if ((performance.now() - lastSave) / 1000 > o.checkpointEvery) {
        state.seconds = elapsed();
        await save();
        lastSave = performance.now();
      }
    }
    if (interrupted || elapsed() > o.maxSeconds) break;
    if ((epoch + 1) % o.evalEvery === 0) {
      accuracy = await meanAccuracy(model, evalPairs);
      state.history.push({ step: state.step, loss, accuracy });
      o.onStep?.({ step: state.step, total: totalSteps, epoch, loss, accuracy });
      if (accuracy >= o.targetAccuracy) break;
    }
  }
  const answerAcc = await meanAccuracy(model, factPairs);
  const paraphraseAcc = await meanAccuracy(model, paraphrasePairs);
  state.seconds = elapsed();
  await save();
  optimizer.dispose();
  return {
    model,
    facts: factPairs.length,
    answerAcc,
    paraphraseAcc,
    seconds: state.seconds,
    steps: state.step,
    history: state.history,
    interrupted,
  };
}

/**
 * One epoch's batches as lists of text indices: a shuffled order, cut into batches, or (with
 * bucketing) sorted by length inside windows of 32 batches first, with the batch order
 * shuffled again so lengths do not come in runs.
 * @param lengths Token count of every text.
 * @param batchSize Texts per batch.
 * @param rng The epoch's generator (the order depends only on it).
 * @param bucket Group similar lengths.
 */
export function epochBatches(
  lengths: readonly number[],
  batchSize: number,
  rng: Rng,
  bucket: boolean,
): number[][] {
  const order = Array.from({ length: lengths.length }, (_, i) => i);
  rng.shuffle(order);
  if (bucket) {
    const window = batchSize * 32;
    for (let w = 0; w < order.length; w += window) {
      const part = order.slice(w, w + window).sort((a, b) => lengths[a] - lengths[b] || a - b);
      order.splice(w, part.length, ...part);
    }
  }
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  if (bucket) rng.shuffle(batches);
  return batches;
}
