/**
 * Token batches for the decoder: MALMEN/GPT-2-style edit batches (prompt ++ answer[:-1], labels
 * already aligned with logit positions) and plain language-model batches (labels = next token).
 * Both are right-padded; padded and prompt positions carry the label -100.
 * @module
 */
import { type Backend, getBackend } from "../../backend.ts";
import { upload } from "../../alloc.ts";
import type { Tensor } from "../../tensor.ts";

/** The label of positions that contribute no loss. */
export const IGNORE_INDEX: number = -100;

/** One edit example: a prompt and the answer it should be followed by, as token ids. */
export interface PromptAnswer {
  /** Prompt tokens (at least one). */
  readonly prompt: readonly number[];
  /** Answer tokens (at least one; GPT-2 style answers start with a space). */
  readonly answer: readonly number[];
}

/** A padded batch on the device, with the host copies the callers need for bookkeeping. */
export interface TokenBatch {
  /** Input token ids, int32 `[B, T]`. */
  readonly ids: Tensor;
  /** Labels aligned with logit positions, int32 `[B, T]` (-100 = no loss). */
  readonly labels: Tensor;
  /**
   * Flat indices (into the `B·T` rows) of the supervised positions (labels ≠ -100), int32
   * `[n]`, ordered by example then position.
   */
  readonly positions: Tensor;
  /**
   * The labels at `positions`, int32 `[n]`: pair with logits computed only there
   * (`model.forward(ids, { at: positions })`).
   */
  readonly targets: Tensor;
  /** Batch size `B`. */
  readonly batchSize: number;
  /** Padded length `T`. */
  readonly length: number;
  /** Host copy of `labels`, row-major. */
  readonly hostLabels: Int32Array;
  /** Host copy of `positions`. */
  readonly hostPositions: Int32Array;
  /** Supervised positions per example (their sum is `n`). */
  readonly counts: readonly number[];
}

/** Options of the batch builders. */
export interface BatchOptions {
  /** Token id written at padded input positions (default 0; its label is always -100). */
  padId?: number;
  /** Longest allowed row (e.g. the model's `nCtx`); longer rows throw. */
  maxLength?: number;
  /** Where the tensors go (default: the current backend). */
  backend?: Backend;
}

/**
 * Builds an edit batch the way MALMEN (and GPT-2 fine-tuning on zsRE) does: input =
 * `prompt ++ answer[:-1]`, labels = `[-100] × (P − 1) ++ answer`, so logit `t` predicts label
 * `t` with no further shift. For prompt length `P` and answer length `A` the supervised
 * positions of an example are `P − 1 … P + A − 2`: exactly one per answer token.
 * @param pairs Prompt/answer token ids.
 * @param options Pad id, length limit, backend.
 * @example Two facts
 * ```ts ignore
 * const batch = editBatch([{ prompt: [5, 6], answer: [7] }, { prompt: [8], answer: [9, 10] }]);
 * ```
 */
export function editBatch(
  pairs: readonly PromptAnswer[],
  options: BatchOptions = {},
): TokenBatch {
  const rows = pairs.map((p, i) => {
    if (p.prompt.length < 1) throw new RangeError(`Edit example ${i} has an empty prompt`);
    if (p.answer.length < 1) throw new RangeError(`Edit example ${i} has an empty answer`);
    const input = [...p.prompt, ...p.answer.slice(0, -1)];
    const labels = [...new Array<number>(p.prompt.length - 1).fill(IGNORE_INDEX), ...p.answer];
    return { input, labels };
  });
  return padRows(rows, options);
}

/**
 * Builds a language-model batch from whole token sequences: input = `seq[:-1]`, labels =
 * `seq[1:]` (every real position is supervised).
 * @param sequences Token ids, each at least two long.
 * @param options Pad id, length limit, backend.
 */
export function lmBatch(
  sequences: readonly (readonly number[])[],
  options: BatchOptions = {},
): TokenBatch {
  const rows = sequences.map((s, i) => {
    if (s.length < 2) {
      throw new RangeError(`Sequence ${i} has ${s.length} tokens; a language-model row needs 2`);
    }
    return { input: s.slice(0, -1), labels: s.slice(1) };
  });
  return padRows(rows, options);
}

interface Row {
  input: readonly number[];
  labels: readonly number[];
}

function padRows(rows: readonly Row[], options: BatchOptions): TokenBatch {
  if (rows.length === 0) throw new RangeError("Cannot build a batch of zero examples");
  const padId = options.padId ?? 0;
  const length = Math.max(...rows.map((r) => r.input.length));
  if (options.maxLength !== undefined && length > options.maxLength) {
    const i = rows.findIndex((r) => r.input.length === length);
    throw new RangeError(
      `Example ${i} needs ${length} positions, more than the limit ${options.maxLength}`,
    );
  }
  const b = rows.length;
  const ids = new Int32Array(b * length).fill(padId);
  const labels = new Int32Array(b * length).fill(IGNORE_INDEX);
  const positions: number[] = [];
  const counts: number[] = [];
  rows.forEach((r, i) => {
    ids.set(r.input, i * length);
    labels.set(r.labels, i * length);
    let count = 0;
    for (let t = 0; t < r.labels.length; t++) {
      if (r.labels[t] === IGNORE_INDEX) continue;
      positions.push(i * length + t);
      count++;
    }
    counts.push(count);
  });
  const backend = options.backend ?? getBackend();
  const hostPositions = Int32Array.from(positions);
  const targets = hostPositions.map((p) => labels[p]);
  return {
    ids: upload(ids, [b, length], "int32", backend),
    labels: upload(labels, [b, length], "int32", backend),
    positions: upload(hostPositions, [hostPositions.length], "int32", backend),
    targets: upload(targets, [targets.length], "int32", backend),
    batchSize: b,
    length,
    hostLabels: labels,
    hostPositions,
    counts,
  };
}

/**
 * Disposes a batch's device tensors.
 */
export function disposeBatch(batch: TokenBatch): void {
  batch.ids.dispose();
  batch.labels.dispose();
  batch.positions.dispose();
  batch.targets.dispose();
}
