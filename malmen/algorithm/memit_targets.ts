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
import { type Backend, sync } from "../../engine/backend.ts";
import { noGrad } from "../../engine/autograd.ts";
import { disposeBatch, editBatch, type PromptAnswer } from "../../engine/models/gpt/batch.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { AdamW } from "../../engine/nn/adamw.ts";
import { ParamArena } from "../../engine/nn/arena.ts";
import { concat } from "../../engine/ops/concat.ts";
import { copyInto } from "../../engine/ops/copy.ts";
import { zeros } from "../../engine/ops/creation.ts";
import { add, div, exp, maximum, mul, sqrt, sub } from "../../engine/ops/elementwise.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { crossEntropy } from "../../engine/ops/loss.ts";
import { sum } from "../../engine/ops/reduce.ts";
import { logSoftmax } from "../../engine/ops/softmax.ts";
import { reshape, slice } from "../../engine/ops/view.ts";
import { keep, tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { embed, head, readout, runBlocks, streamRows } from "./residual.ts";

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
  const [b, t] = [batch.batchSize, batch.length];
  const n = batch.hostPositions.length;
  const editHost = editRows(facts, t);
  // Logits are read at the answer positions, then at the edited tokens (for the KL term).
  const rowsHost = Int32Array.from([...batch.hostPositions, ...editHost]);
  const weights = new Float32Array(n);
  let at = 0;
  batch.counts.forEach((c) => {
    for (let k = 0; k < c; k++) weights[at++] = 1 / c;
  });
  const edited = upload(editHost, [b], "int32", backend);
  const rows = upload(rowsHost, [rowsHost.length], "int32", backend);
  const weight = upload(weights, [n], "float32", backend);
  // δ moves the stream through 0/1 matrices (products whose backward is a product; a gather's
  // backward would sort all B·T rows every step). With no block after L only the read rows
  // matter: they are h's rows plus δ where a read row is an edited one.
  const tail = o.layer + 1 < last;
  const factOf = new Map(Array.from(editHost, (r, i) => [r, i]));
  const place = tail
    ? selector(b, Array.from({ length: b * t }, (_, r) => factOf.get(r) ?? -1), backend)
    : selector(b, Array.from(rowsHost, (r) => factOf.get(r) ?? -1), backend);
  const select = tail ? selector(b * t, rowsHost, backend) : null;
  // What stays fixed: the stream after block L (or its read rows), its rows at the edited
  // tokens and their squared norms, and the unedited distribution after the edited token.
  const consts = noGrad(() =>
    tidy(() => {
      const h = runBlocks(model, embed(model, batch.ids), 0, o.layer + 1);
      const hs = streamRows(h, edited);
      const ref = logSoftmax(readout(model, runBlocks(model, h, o.layer + 1, last), edited));
      const base = tail ? h : streamRows(h, rows);
      return { base, hs, hNorm2: sum(mul(hs, hs), 1, { keepDims: true }), ref };
    })
  );
  for (const c of Object.values(consts)) keep(c);
  const init = new Map([["delta", zeros([b, d], { backend })]]);
  init.get("delta")!.requiresGrad = true;
  const arena = ParamArena.fromTensors(init, { decay: () => false });
  init.get("delta")!.dispose();
  const optimizer = new AdamW(arena, { lr: o.lr, weightDecay: 0 });
  const delta = arena.param("delta");
  // The final stream's rows at `rows` with δ added after block L.
  const readRows = (): Tensor => {
    if (select === null) return add(consts.base, matmul(place, delta));
    const x = add(consts.base, reshape(matmul(place, delta), [b, t, d]));
    return matmul(select, reshape(runBlocks(model, x, o.layer + 1, last), [b * t, d]));
  };
  try {
    for (let step = 0; step < o.steps; step++) {
      tidy(() => {
        optimizer.zeroGrad();
        const logits = head(model, readRows());
        const v = logits.shape[1];
        let loss = sum(mul(
          crossEntropy(slice(logits, [0, 0], [n, v]), batch.targets, { reduction: "none" }),
          weight,
        ));
        if (o.klWeight > 0) {
          const lp = logSoftmax(slice(logits, [n, 0], [n + b, v]));
          loss = add(loss, mul(sum(mul(exp(lp), sub(lp, consts.ref))), o.klWeight));
        }
        if (o.decay > 0) {
          const penalty = sum(div(sum(mul(delta, delta), 1, { keepDims: true }), consts.hNorm2));
          loss = add(loss, mul(penalty, o.decay));
        }
        loss.backward();
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
    for (const c of [...Object.values(consts), edited, rows, weight, place, select]) c?.dispose();
    disposeBatch(batch);
  }
}

// A 0/1 matrix [cols.length, width] with a 1 at (j, cols[j]) wherever cols[j] ≥ 0.
function selector(width: number, cols: ArrayLike<number>, backend: Backend): Tensor {
  const m = new Float32Array(cols.length * width);
  for (let j = 0; j < cols.length; j++) if (cols[j] >= 0) m[j * width + cols[j]] = 1;
  return upload(m, [cols.length, width], "float32", backend);
}
