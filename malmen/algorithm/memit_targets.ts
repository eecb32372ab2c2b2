/**
 * MEMIT's first step (Meng et al. 2023, "Mass-Editing Memory in a Transformer"): for each fact
 * a target for the residual stream after the last edited block L at the fact's edited token
 * (the subject's last token in the paper), z = h + δ. δ is added to the stream there and
 * optimised with Adam for a fixed number of steps on
 *
 *   −(1/|answer|)·Σ log P(target_new | prompt)  +  w_KL·KL(P_δ ‖ P_0 after the edited token)
 *     +  w_decay·‖δ‖² / ‖h‖²,
 *
 * then clamped to ‖δ‖ ≤ c·‖h‖ after every step. The KL term keeps the next-token distribution
 * right after the edited token (the prompt cut there: for the subject, the fact's "essence"
 * prompt, read from the same forward pass) close to the unedited one, so δ changes what the
 * relation reads from the subject rather than the subject itself. The loss is a sum over facts
 * of per-fact terms and each fact owns its δ row, so facts are optimised independently and
 * chunking them changes nothing.
 * @module
 */
import { upload } from "../../engine/alloc.ts";
import { sync } from "../../engine/backend.ts";
import { noGrad } from "../../engine/autograd.ts";
import { disposeBatch, editBatch, type PromptAnswer } from "../../engine/models/gpt/batch.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { AdamW } from "../../engine/nn/adamw.ts";
import { ParamArena } from "../../engine/nn/arena.ts";
import { concat } from "../../engine/ops/concat.ts";
import { copyInto } from "../../engine/ops/copy.ts";
import { zeros } from "../../engine/ops/creation.ts";
import { add, div, exp, maximum, mul, sqrt, sub } from "../../engine/ops/elementwise.ts";
import { gather } from "../../engine/ops/gather.ts";
import { crossEntropy } from "../../engine/ops/loss.ts";
import { sum } from "../../engine/ops/reduce.ts";
import { logSoftmax } from "../../engine/ops/softmax.ts";
import { reshape, slice } from "../../engine/ops/view.ts";
import { keep, tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { embed, readout, runBlocks, streamRows } from "./residual.ts";

/** One fact as MEMIT sees it: the edit tuple and the token where it is read and written. */
export interface MemitFact {
  /** prompt → target_new. */
  pair: PromptAnswer;
  /** Index in `pair.prompt` of the edited token (the subject's last token, in the paper). */
  at: number;
}

/** How the target values are optimised. */
export interface MemitTargetOptions {
  /** The block whose output stream receives δ (MEMIT's last edited layer L). */
  layer: number;
  /** Adam steps. */
  steps: number;
  /** Adam learning rate. */
  lr: number;
  /** Weight of the KL term after the edited token. */
  klWeight: number;
  /** Weight of ‖δ‖² / ‖h‖². */
  decay: number;
  /** Largest ‖δ‖ / ‖h‖ (the norm constraint). */
  clamp: number;
  /** Facts per forward pass. */
  batch: number;
}

/**
 * The flat `B·T` rows of each fact's edited token in a padded batch of length `length`.
 * @param facts The batch's facts, in order.
 * @param length Padded length T.
 */
export function editRows(facts: readonly MemitFact[], length: number): Int32Array {
  return Int32Array.from(facts, (f, i) => {
    if (!(Number.isInteger(f.at) && 0 <= f.at && f.at < f.pair.prompt.length)) {
      throw new RangeError(
        `Fact ${i}: token ${f.at} is outside its ${f.pair.prompt.length}-token prompt`,
      );
    }
    return i * length + f.at;
  });
}

/**
 * Target values z = h + δ of every fact (chunked by `options.batch`), on the model as it is
 * (normally without shifts).
 * @param model The frozen LM.
 * @param facts Facts to edit.
 * @param options Layer, steps and loss weights.
 * @returns `[m, d]` in `facts` order (caller disposes).
 */
export async function optimizeTargets(
  model: GPT,
  facts: readonly MemitFact[],
  options: MemitTargetOptions,
): Promise<Tensor> {
  const chunks: Tensor[] = [];
  try {
    for (let i = 0; i < facts.length; i += options.batch) {
      chunks.push(await chunkTargets(model, facts.slice(i, i + options.batch), options));
    }
    return chunks.length === 1 ? chunks[0] : keep(noGrad(() => concat(chunks, 0)));
  } finally {
    if (chunks.length > 1) { for (const c of chunks) c.dispose(); }
  }
}

async function chunkTargets(
  model: GPT,
  facts: readonly MemitFact[],
  o: MemitTargetOptions,
): Promise<Tensor> {
  const backend = model.backend;
  const d = model.config.dModel;
  const last = model.config.nLayer;
  const batch = editBatch(facts.map((f) => f.pair), { backend, maxLength: model.config.nCtx });
  const b = batch.batchSize;
  const n = batch.hostPositions.length;
  const subjHost = editRows(facts, batch.length);
  // Row r of the stream gets δ[place[r] − 1]; place 0 picks the zero row (no change).
  const placeHost = new Int32Array(b * batch.length);
  subjHost.forEach((r, i) => (placeHost[r] = i + 1));
  const weights = new Float32Array(n);
  let at = 0;
  batch.counts.forEach((c) => {
    for (let k = 0; k < c; k++) weights[at++] = 1 / c;
  });
  const int = (a: Int32Array) => upload(a, [a.length], "int32", backend);
  const subj = int(subjHost);
  const place = int(placeHost);
  const rows = int(Int32Array.from([...batch.hostPositions, ...subjHost]));
  const weight = upload(weights, [n], "float32", backend);
  // What stays fixed: the stream after block L, its rows at the edited tokens and their squared
  // norms, and the unedited distribution after the edited token.
  const consts = noGrad(() =>
    tidy(() => {
      const h = runBlocks(model, embed(model, batch.ids), 0, o.layer + 1);
      const hs = streamRows(h, subj);
      const ref = logSoftmax(readout(model, runBlocks(model, h, o.layer + 1, last), subj));
      return { h, hs, hNorm2: sum(mul(hs, hs), 1, { keepDims: true }), ref };
    })
  );
  for (const t of Object.values(consts)) keep(t);
  const init = new Map([["delta", zeros([b, d], { backend })]]);
  init.get("delta")!.requiresGrad = true;
  const arena = ParamArena.fromTensors(init, { decay: () => false });
  init.get("delta")!.dispose();
  const optimizer = new AdamW(arena, { lr: o.lr, weightDecay: 0 });
  const delta = arena.param("delta");
  try {
    for (let step = 0; step < o.steps; step++) {
      tidy(() => {
        optimizer.zeroGrad();
        const padded = concat([zeros([1, d], { backend }), delta], 0);
        const x = add(consts.h, reshape(gather(padded, place, 0), [b, batch.length, d]));
        const logits = readout(model, runBlocks(model, x, o.layer + 1, last), rows);
        const v = logits.shape[1];
        const nll = sum(mul(
          crossEntropy(slice(logits, [0, 0], [n, v]), batch.targets, { reduction: "none" }),
          weight,
        ));
        const lp = logSoftmax(slice(logits, [n, 0], [n + b, v]));
        const kl = sum(mul(exp(lp), sub(lp, consts.ref)));
        const penalty = sum(div(sum(mul(delta, delta), 1, { keepDims: true }), consts.hNorm2));
        add(add(nll, mul(kl, o.klWeight)), mul(penalty, o.decay)).backward();
        optimizer.step();
        // The norm constraint: ‖δ‖ ≤ c·‖h‖, row by row.
        noGrad(() => {
          const norm = sqrt(sum(mul(delta, delta), 1, { keepDims: true }));
          const limit = mul(sqrt(consts.hNorm2), o.clamp);
          copyInto(delta, mul(delta, div(limit, maximum(norm, limit))));
        });
      });
      // Bounds the queue of recorded kernels.
      if (step % 8 === 7) await sync(backend);
    }
    return keep(noGrad(() => add(consts.hs, delta)));
  } finally {
    optimizer.dispose();
    arena.dispose();
    for (const t of [consts.h, consts.hs, consts.hNorm2, consts.ref, subj, place, rows, weight]) {
      t.dispose();
    }
    disposeBatch(batch);
  }
}
