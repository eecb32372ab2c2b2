/**
 * The one interface of every editor: requests in, one weight shift per edited layer out. The
 * model is never modified; shifts are applied with `GPT.setShift` (W + ΔW) and reverted exactly
 * by removing them.
 * @module
 */
import type { Tensor } from "../../engine/tensor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { EditRequest } from "../eval/requests.ts";
import type { KeyPositions } from "../algorithm/capture.ts";

/** Names of the editors. */
export type EditorName = "malmen" | "mend" | "ft" | "memit";

/** Settings shared by all editors. */
export interface EditorConfig {
  /** Edited blocks: their `mlp.c_proj` receives a shift. */
  layers: number[];
  /** Facts per LM mini-batch. */
  lmBatch: number;
  /** Hyper-network rows per chunk (independent of `lmBatch`). */
  chunk: number;
  /** Weight of the locality KL in the meta-loss. */
  locCoef: number;
  /**
   * Also train on the edit tuples themselves: the meta-loss's cross-entropy term then covers the
   * edit prompts as well as their paraphrases (default false, as in MALMEN's code, whose
   * meta-loss has no edit-success term). Chosen on the validation split for CounterFact, where
   * paraphrases carry unrelated prefixes and the paper's objective alone did not move.
   */
  editLoss?: boolean;
  /**
   * Weight μ of a preservation prior in MALMEN's least-squares solve: ΔW = (KᵀK + μ·E[uuᵀ] +
   * λI)⁻¹KᵀD, with E[uuᵀ] the second moment of the keys of the LM's own training facts
   * (see `malmen/algorithm/key_prior.ts`). Default 0: the paper's plain ridge. Ignored by MEND and FT.
   */
  keyPrior?: number;
  /**
   * Weight μ of the key prior in the solves of an edit (not of meta-training), default
   * `keyPrior`. An edit of hundreds of facts at once needs more preservation than the meta-steps'
   * smaller batches, so the two are set apart.
   */
  editKeyPrior?: number;
  /**
   * Where keys and value-gradients are captured (default `answer`: every answer token; `first`:
   * the first answer token only, one row per fact; `all`: every prompt and answer position).
   * Used by meta-training and editing alike.
   */
  keyPositions?: KeyPositions;
  /**
   * Edit passes of MALMEN/MEND (default 1, as in MALMEN): each further pass captures on the model
   * with the shifts so far and adds its own shift. An edit-time setting.
   */
  editPasses?: number;
  /**
   * Factor on each edit pass's shift, the same as scaling the learned step size η at edit time
   * (default 1; the shift is linear in η for both aggregations).
   */
  editEtaScale?: number;
  /**
   * Shift factors for smaller edits, as `[maxFacts, scale]` pairs in increasing `maxFacts`: an
   * edit of m facts at once uses the scale of the first pair with m ≤ maxFacts, and
   * `editEtaScale` above them all. A shift scaled up for hundreds of facts at once over-edits a
   * handful, whose solve already fits them (measured on validation facts in BENCHMARKS.md).
   */
  editEtaScaleBySize?: readonly (readonly [number, number])[];
  /** Low-rank width of the hyper-network (capped at d_in + d_out). */
  rank: number;
  /** Residual blocks of the hyper-network. */
  nBlocks: number;
  /** Initial edit step size η. */
  etaInit: number;
  /** Initialisation seed. */
  seed: number;
  /** Fine-tuning baseline: passes over the edit tuples. */
  ftEpochs: number;
  /**
   * Fine-tuning baseline: at least this many Adam steps (more epochs when there are few facts,
   * so small edit batches are not under-trained; default 0).
   */
  ftMinSteps?: number;
  /** Fine-tuning baseline: Adam learning rate. */
  ftLr: number;
}

/**
 * Default editor settings for a model with `nLayer` blocks: the last half of the blocks are
 * edited (GPT-2's 6 of 12 in the paper).
 * @param nLayer Number of blocks.
 */
export function defaultEditorConfig(nLayer: number): EditorConfig {
  const count = Math.max(1, Math.floor(nLayer / 2));
  return {
    layers: Array.from({ length: count }, (_, i) => nLayer - count + i),
    lmBatch: 64,
    chunk: 1024,
    locCoef: 1,
    rank: 1920,
    nBlocks: 2,
    etaInit: 1e-2,
    seed: 0,
    ftEpochs: 10,
    ftMinSteps: 50,
    ftLr: 3e-2,
  };
}

/** Computes shifts for many facts at once. */
export interface Editor {
  /** Which editor (an {@linkcode EditorName}, or e.g. "journal" for a replayed entry). */
  readonly name: string;
  /** Its settings. */
  readonly config: EditorConfig;
  /**
   * One shift per edited layer that edits all requests simultaneously. The model is left
   * without shifts; the caller owns the returned tensors.
   * @returns Layer → ΔW `[d_in, d_out]`.
   */
  computeShifts(model: GPT, requests: readonly EditRequest[]): Promise<Map<number, Tensor>>;
}
